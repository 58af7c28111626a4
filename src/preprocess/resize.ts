/**
 * Separable antialiased resampling with a triangle (tent) filter whose support grows with the
 * shrink factor, so shrinking 8x averages over 16 source pixels per axis instead of sampling
 * one: fine patterns turn grey rather than aliasing into false stripes. Enlarging is plain
 * bilinear interpolation. Pixel centres sit at (i + 0.5), as in PIL and OpenCV's INTER_AREA.
 */
import { clampToByte } from '../image/byte-rounding';

export interface AxisWeights {
  /** First source index of each output index's window. */
  start: Int32Array;
  /** Source indices in each window: `taps` wherever the input is that long (some weigh 0), else fewer. */
  count: Int32Array;
  /** `taps` weights per output index, normalised to sum to 1. */
  weights: Float32Array;
  taps: number;
}

/** Each output index's window and tent weights along one axis of `inSize` source pixels. */
export function axisWeights(inSize: number, outSize: number): AxisWeights {
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
 * rounding to 8 bits. Rows are filtered first into a float32 buffer of `height` x `outWidth`, then columns.
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
  const rows = filterRows(data, width, height, axisWeights(width, outWidth));
  return filterColumns(rows, outWidth, axisWeights(height, outHeight));
}

// Both passes have a loop of their own for windows of 5 and 7 taps, the ones a decode-to-size leaves (it stops
// within 2x of the model input, 4.4x for a very long side), with the weights in locals and the sum written out:
// twice as fast as a loop over the taps in V8. Every other window (a DICOM film shrinks 8x, 19 taps) goes through
// a loop over the taps that keeps four sums going at once. Each path adds the same terms in the same order
// (ascending tap) in float64, so all give the same bits.

/** The horizontal pass: `height` x `weights.start.length` sums over each row's windows, stored as float32. */
function filterRows(data: Uint8Array, width: number, height: number, weights: AxisWeights): Float32Array {
  const { start, count, weights: w, taps } = weights;
  const outWidth = start.length;
  const rows = new Float32Array(height * outWidth);
  // Every window has all `taps` indices when the row is that long (axisWeights).
  const full = width >= taps;
  // Output column by column, down the rows: its weights stay in locals. (Stryker cannot be told the same of the
  // `else if` below: docs/mutation-equivalents.json explains its survivors.)
  // Stryker disable next-line ConditionalExpression: a shortcut; the general loop gives the same bits
  if (full && taps === 5) {
    for (let x = 0, b = 0; x < outWidth; x++, b += 5) {
      const w0 = w[b], w1 = w[b + 1], w2 = w[b + 2], w3 = w[b + 3], w4 = w[b + 4];
      // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
      for (let y = 0, i = start[x], o = x; y < height; y++, i += width, o += outWidth) {
        rows[o] = data[i] * w0 + data[i + 1] * w1 + data[i + 2] * w2 + data[i + 3] * w3 + data[i + 4] * w4;
      }
    }
  } else if (full && taps === 7) {
    for (let x = 0, b = 0; x < outWidth; x++, b += 7) {
      const w0 = w[b], w1 = w[b + 1], w2 = w[b + 2], w3 = w[b + 3], w4 = w[b + 4], w5 = w[b + 5], w6 = w[b + 6];
      // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
      for (let y = 0, i = start[x], o = x; y < height; y++, i += width, o += outWidth) {
        rows[o] = data[i] * w0 + data[i + 1] * w1 + data[i + 2] * w2 + data[i + 3] * w3 + data[i + 4] * w4 + data[i + 5] * w5 + data[i + 6] * w6;
      }
    }
  } else {
    // Any other window (a large shrink, e.g. a full-size DICOM film: 19 taps), four rows at a time: four sums
    // that do not wait on each other, where one alone waits on each addition.
    let y = 0;
    for (; y + 4 <= height; y += 4) {
      // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
      for (let x = 0, b = 0, o = y * outWidth; x < outWidth; x++, b += taps, o++) {
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let j = b, end = b + count[x], i = y * width + start[x]; j < end; j++, i++) {
          const wj = w[j];
          s0 += data[i] * wj;
          s1 += data[i + width] * wj;
          s2 += data[i + 2 * width] * wj;
          s3 += data[i + 3 * width] * wj;
        }
        rows[o] = s0;
        rows[o + outWidth] = s1;
        rows[o + 2 * outWidth] = s2;
        rows[o + 3 * outWidth] = s3;
      }
    }
    for (; y < height; y++) {
      // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
      for (let x = 0, b = 0, o = y * outWidth; x < outWidth; x++, b += taps, o++) {
        let sum = 0;
        for (let j = b, end = b + count[x], i = y * width + start[x]; j < end; j++, i++) sum += data[i] * w[j];
        rows[o] = sum;
      }
    }
  }
  return rows;
}

/** The vertical pass over `rows` (`width` wide), rounded to 8 bits. */
function filterColumns(rows: Float32Array, width: number, weights: AxisWeights): Uint8Array {
  const { start, count, weights: w, taps } = weights;
  const outHeight = start.length;
  const out = new Uint8Array(width * outHeight);
  // The weights are non-negative and sum to 1, so every sum is already within 0..255: clampToByte only rounds.
  // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
  for (let y = 0; y < outHeight; y++) {
    const n = count[y];
    const b = y * taps;
    const first = start[y] * width;
    const o = y * width;
    // Stryker disable next-line ConditionalExpression: a shortcut; the general loop gives the same bits
    if (n === 5) {
      const w0 = w[b], w1 = w[b + 1], w2 = w[b + 2], w3 = w[b + 3], w4 = w[b + 4];
      // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
      for (let x = 0, i = first; x < width; x++, i++) {
        out[o + x] = clampToByte(rows[i] * w0 + rows[i + width] * w1 + rows[i + 2 * width] * w2 + rows[i + 3 * width] * w3 + rows[i + 4 * width] * w4);
      }
    } else if (n === 7) {
      const w0 = w[b], w1 = w[b + 1], w2 = w[b + 2], w3 = w[b + 3], w4 = w[b + 4], w5 = w[b + 5], w6 = w[b + 6];
      // Stryker disable next-line EqualityOperator: one step more only writes past the end of a typed array (dropped) or a slot the next step overwrites
      for (let x = 0, i = first; x < width; x++, i++) {
        const sum = rows[i] * w0 + rows[i + width] * w1 + rows[i + 2 * width] * w2 + rows[i + 3 * width] * w3 + rows[i + 4 * width] * w4 + rows[i + 5 * width] * w5;
        out[o + x] = clampToByte(sum + rows[i + 6 * width] * w6);
      }
    } else {
      // Four columns at a time, as in filterRows.
      let x = 0;
      for (; x + 4 <= width; x += 4) {
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0, i = first + x; k < n; k++, i += width) {
          const wk = w[b + k];
          s0 += rows[i] * wk;
          s1 += rows[i + 1] * wk;
          s2 += rows[i + 2] * wk;
          s3 += rows[i + 3] * wk;
        }
        out[o + x] = clampToByte(s0);
        out[o + x + 1] = clampToByte(s1);
        out[o + x + 2] = clampToByte(s2);
        out[o + x + 3] = clampToByte(s3);
      }
      for (; x < width; x++) {
        let sum = 0;
        for (let k = 0, i = first + x; k < n; k++, i += width) sum += rows[i] * w[b + k];
        out[o + x] = clampToByte(sum);
      }
    }
  }
  return out;
}
