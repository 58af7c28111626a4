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

/** Bilinear sample of the map at display pixel (x, y) of a width x height image. */
function sample(cam: CamMap, x: number, y: number, width: number, height: number): number {
  const fx = Math.min(cam.width - 1, Math.max(0, ((x + 0.5) / width) * cam.width - 0.5));
  const fy = Math.min(cam.height - 1, Math.max(0, ((y + 0.5) / height) * cam.height - 0.5));
  const x0 = Math.floor(fx);
  const y0 = Math.floor(fy);
  const x1 = Math.min(cam.width - 1, x0 + 1);
  const y1 = Math.min(cam.height - 1, y0 + 1);
  const tx = fx - x0;
  const ty = fy - y0;
  const v = cam.values;
  const top = v[y0 * cam.width + x0] * (1 - tx) + v[y0 * cam.width + x1] * tx;
  const bottom = v[y1 * cam.width + x0] * (1 - tx) + v[y1 * cam.width + x1] * tx;
  return top * (1 - ty) + bottom * ty;
}

/** Returns interleaved RGB of the blended image plus its colour bar. */
export function renderOverlay(
  luma: { width: number; height: number; data: Uint8Array },
  cam: CamMap,
): { rgb: Uint8Array; width: number; height: number } {
  const { width, height } = luma;
  const outWidth = width + BAR_GAP + BAR_WIDTH;
  const rgb = new Uint8Array(outWidth * height * 3).fill(255);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const grey = luma.data[y * width + x];
      const colour = jet(sample(cam, x, y, width, height));
      const o = (y * outWidth + x) * 3;
      for (let c = 0; c < 3; c++) rgb[o + c] = Math.round((1 - OVERLAY_OPACITY) * grey + OVERLAY_OPACITY * colour[c]);
    }
    const colour = jet(1 - y / Math.max(1, height - 1));
    for (let x = width + BAR_GAP; x < outWidth; x++) rgb.set(colour, (y * outWidth + x) * 3);
  }
  return { rgb, width: outWidth, height };
}
