/**
 * Separable antialiased resampling with a triangle (tent) filter whose support grows with the
 * shrink factor, so shrinking 8x averages over 16 source pixels per axis instead of sampling
 * one: fine patterns turn grey rather than aliasing into false stripes. Enlarging is plain
 * bilinear interpolation. Pixel centres sit at (i + 0.5), as in PIL and OpenCV's INTER_AREA.
 */

interface AxisWeights {
  /** First source index of each output index's window. */
  start: Int32Array;
  /** Source indices in each window: `taps` wherever the input is that long (some weigh 0), else fewer. */
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
  // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(inSize, Math.ceil(centre + support));
    // Every window holds exactly `taps` indices (when the input has that many), the ones outside the
    // filter weighing 0: adding +0 leaves a sum unchanged, and equal trip counts make the loops faster.
    // Stryker disable next-line EqualityOperator: with inSize === taps both branches start the window at 0
    const first = inSize >= taps ? Math.min(lo, inSize - taps) : lo;
    let sum = 0;
    let n = 0;
    // hi - lo <= ceil(2 * support) + 1 <= taps: the window always fits its `taps` slots.
    for (let j = lo; j < hi; j++, n++) {
      const w = Math.max(0, 1 - Math.abs((j + 0.5 - centre) / filterScale));
      weights[i * taps + j - first] = w;
      // Stryker disable next-line AssignmentOperator: both axes are normalised by the same code, so negating every sum negates every weight twice
      sum += w;
    }
    const from = lo - first;
    // Stryker disable next-line EqualityOperator: the slot just past the window holds 0 (0 / sum = 0) or the next output index's, which it rewrites
    for (let k = from; k < from + n; k++) weights[i * taps + k] /= sum;
    start[i] = first;
    // Stryker disable next-line EqualityOperator: with inSize === taps the window holds all `n` = taps indices either way
    count[i] = inSize >= taps ? taps : n;
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
  // Same size: every tap but the centre one weighs exactly 0, so the result would be the input.
  // Stryker disable next-line ConditionalExpression: a shortcut; without it the filter returns the same pixels
  if (width === outWidth && height === outHeight) return data.slice();
  const horizontal = axisWeights(width, outWidth);
  const vertical = axisWeights(height, outHeight);
  const rows = new Float32Array(height * outWidth);
  const { start: hStart, count: hCount, weights: hWeights, taps: hTaps } = horizontal;
  // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
  for (let y = 0; y < height; y++) {
    const src = y * width;
    const dst = y * outWidth;
    // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
    for (let x = 0; x < outWidth; x++) {
      const base = x * hTaps;
      const first = src + hStart[x];
      let acc = 0;
      for (let k = 0, n = hCount[x]; k < n; k++) acc += data[first + k] * hWeights[base + k];
      rows[dst + x] = acc;
    }
  }
  // Columns are filtered a source row at a time into double-precision sums (contiguous reads); each sum
  // still adds its terms in the same order as a per-pixel loop would, so the result is the same.
  const out = new Uint8Array(outWidth * outHeight);
  const acc = new Float64Array(outWidth);
  // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
  for (let y = 0; y < outHeight; y++) {
    const base = y * vertical.taps;
    const first = vertical.start[y];
    acc.fill(0);
    for (let k = 0, n = vertical.count[y]; k < n; k++) {
      const weight = vertical.weights[base + k];
      const row = (first + k) * outWidth;
      // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
      for (let x = 0; x < outWidth; x++) acc[x] += rows[row + x] * weight;
    }
    const dst = y * outWidth;
    // The weights are non-negative and sum to 1, so every value is already within 0..255.
    // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
    for (let x = 0; x < outWidth; x++) out[dst + x] = Math.round(acc[x]);
  }
  return out;
}
