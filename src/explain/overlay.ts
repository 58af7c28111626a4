/**
 * Renders a Grad-CAM map over the radiograph: the map is upsampled bilinearly to the display image
 * (it spans the whole image, since the model input is the whole image stretched to a square),
 * coloured with the "jet" scale and blended at a fixed opacity; a colour bar (bottom 0, top 1) is
 * added on the right.
 */
import type { CamMap } from './gradcam';

export const OVERLAY_OPACITY = 0.45;
const BAR_GAP = 8;
const BAR_WIDTH = 16;

/** Jet colour scale, v in [0, 1] -> RGB 0..255. */
export function jet(v: number): [number, number, number] {
  const channel = (offset: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - offset))));
  return [channel(3), channel(2), channel(1)];
}

/** jet() at 256 levels, premultiplied by the opacity, as R, G, B triples. */
const JET_LUT = (() => {
  const lut = new Float32Array(256 * 3);
  for (let i = 0; i < 256; i++) lut.set(jet(i / 255).map((c) => c * OVERLAY_OPACITY), i * 3);
  return lut;
})();

/** For each output index along an axis: the two map cells it falls between and the weight of the second. */
function axis(outSize: number, cells: number): { lo: Int32Array; hi: Int32Array; t: Float32Array } {
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const t = new Float32Array(outSize);
  for (let i = 0; i < outSize; i++) {
    const f = Math.min(cells - 1, Math.max(0, ((i + 0.5) / outSize) * cells - 0.5));
    lo[i] = Math.floor(f);
    hi[i] = Math.min(cells - 1, lo[i] + 1);
    t[i] = f - lo[i];
  }
  return { lo, hi, t };
}

/** Returns interleaved RGB of the blended image plus its colour bar. */
export function renderOverlay(
  luma: { width: number; height: number; data: Uint8Array },
  cam: CamMap,
): { rgb: Uint8Array; width: number; height: number } {
  const { width, height } = luma;
  const outWidth = width + BAR_GAP + BAR_WIDTH;
  const rgb = new Uint8Array(outWidth * height * 3).fill(255);
  const xs = axis(width, cam.width);
  const ys = axis(height, cam.height);
  const v = cam.values;
  const keep = 1 - OVERLAY_OPACITY;
  for (let y = 0; y < height; y++) {
    const top = ys.lo[y] * cam.width;
    const bottom = ys.hi[y] * cam.width;
    const ty = ys.t[y];
    let o = y * outWidth * 3;
    for (let x = 0; x < width; x++) {
      const tx = xs.t[x];
      const a = v[top + xs.lo[x]] * (1 - tx) + v[top + xs.hi[x]] * tx;
      const b = v[bottom + xs.lo[x]] * (1 - tx) + v[bottom + xs.hi[x]] * tx;
      const level = Math.round((a * (1 - ty) + b * ty) * 255) * 3;
      const grey = keep * luma.data[y * width + x];
      rgb[o++] = grey + JET_LUT[level] + 0.5;
      rgb[o++] = grey + JET_LUT[level + 1] + 0.5;
      rgb[o++] = grey + JET_LUT[level + 2] + 0.5;
    }
    const colour = jet(1 - y / Math.max(1, height - 1));
    for (let x = width + BAR_GAP; x < outWidth; x++) rgb.set(colour, (y * outWidth + x) * 3);
  }
  return { rgb, width: outWidth, height };
}
