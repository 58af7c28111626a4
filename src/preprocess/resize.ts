/**
 * Separable antialiased resampling with a triangle (tent) filter whose support grows with the
 * shrink factor, so shrinking 8x averages over 16 source pixels per axis instead of sampling
 * one: fine patterns turn grey rather than aliasing into false stripes. Enlarging is plain
 * bilinear interpolation. Pixel centres sit at (i + 0.5), as in PIL and OpenCV's INTER_AREA.
 */

interface AxisWeights {
  /** First source index contributing to each output index. */
  start: Int32Array;
  /** Number of contributing source indices for each output index. */
  count: Int32Array;
  /** `taps` weights per output index, normalised to sum to 1. */
  weights: Float32Array;
  taps: number;
}

function axisWeights(inSize: number, outSize: number): AxisWeights {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the tent's radius is 1 output pixel, in source pixels
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Float32Array(outSize * taps);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize, Math.ceil(centre + support));
    let sum = 0;
    let n = 0;
    for (let j = lo; j < hi && n < taps; j++, n++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / filterScale));
      weights[i * taps + n] = w;
      sum += w;
    }
    for (let k = 0; k < n; k++) weights[i * taps + k] /= sum;
    start[i] = lo;
    count[i] = n;
  }
  return { start, count, weights, taps };
}

/**
 * Resizes a single-channel 8-bit image to `outWidth` x `outHeight` (aspect ratio not kept),
 * rounding to 8 bits. Rows are filtered first into a float buffer of `height` x `outWidth`.
 */
export function resizeLuma(
  data: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  const horizontal = axisWeights(width, outWidth);
  const vertical = axisWeights(height, outHeight);
  const rows = new Float32Array(height * outWidth);
  for (let y = 0; y < height; y++) {
    const src = y * width;
    const dst = y * outWidth;
    for (let x = 0; x < outWidth; x++) {
      const base = x * horizontal.taps;
      const first = src + horizontal.start[x];
      let acc = 0;
      for (let k = 0, n = horizontal.count[x]; k < n; k++) acc += data[first + k] * horizontal.weights[base + k];
      rows[dst + x] = acc;
    }
  }
  const out = new Uint8Array(outWidth * outHeight);
  for (let y = 0; y < outHeight; y++) {
    const base = y * vertical.taps;
    const first = vertical.start[y];
    const n = vertical.count[y];
    for (let x = 0; x < outWidth; x++) {
      let acc = 0;
      for (let k = 0; k < n; k++) acc += rows[(first + k) * outWidth + x] * vertical.weights[base + k];
      out[y * outWidth + x] = acc <= 0 ? 0 : acc >= 255 ? 255 : Math.round(acc);
    }
  }
  return out;
}
