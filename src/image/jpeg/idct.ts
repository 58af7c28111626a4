/**
 * Inverse DCT of an 8x8 block straight to N x N pixels (N = 8, 4, 2 or 1). Each output pixel is the
 * mean of the 8/N x 8/N pixels the full 8x8 IDCT would give there - the same definition as
 * libjpeg's reduced-size IDCTs (jidctred.c) - computed with a precomputed N x 8 basis per axis, so a
 * reduced block costs a fraction of a full one. At N = 1 this is the block mean, F(0,0) / 8.
 */

import { clampToByte } from '../byte-rounding';

/**
 * basis[N][X * 8 + u]: mean over the 8/N full-size positions x of output X of c(u) cos((2x+1) u pi / 16) / 2.
 * N = 4 and 8 run through the same four-wide code; N = 2 has a two-wide path of its own (idct2), and N = 1 needs
 * only the DC term.
 */
const BASIS: Record<number, Float32Array> = {};
for (const n of [1, 2, 4, 8]) {
  const group = 8 / n;
  const table = new Float32Array(n * 8);
  for (let X = 0; X < n; X++) {
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let x = X * group; x < (X + 1) * group; x++) sum += (u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
      // Where the cosines cancel over the cell (u = 2, 4, 6 at N = 2; u = 4 at N = 4) the float sum is about 1e-17:
      // an exact zero, so those terms change no sum and N = 2 skips them (idct2).
      table[X * 8 + u] = Math.abs(sum) < 1e-9 ? 0 : sum / group / 2;
    }
  }
  BASIS[n] = table;
}

/**
 * CONTRIBUTES[N][natural index]: 1 where the coefficient can change an N x N output (its row and column basis values
 * are not both zero), else 0. At N = 1 only DC; at N = 2 the frequencies 2, 4 and 6 of either axis drop out; at N = 4
 * frequency 4. Decoders store only these, so a skipped one leaves the output bit-identical.
 */
export const CONTRIBUTES: Record<number, Uint8Array> = {};
for (const n of [1, 2, 4, 8]) {
  const used = (u: number) => BASIS[n].some((b, i) => i % 8 === u && b !== 0);
  CONTRIBUTES[n] = Uint8Array.from({ length: 64 }, (_, i) => (used(i & 7) && used(i >> 3) ? 1 : 0));
}

/** Zig-zag position -> natural (row-major 8x8) index. */
export const ZIGZAG = new Uint8Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35,
  42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62,
  63,
]);

const work = new Float32Array(64);
const sums = new Float64Array(4);

/**
 * @param coefficients 64 dequantised coefficients in natural order
 * @param n output size (8, 4, 2 or 1)
 * @param out destination plane; the block lands at (x0, y0), clipped to outWidth x outHeight
 * @param lastRow the last coefficient row that may be nonzero, `lastCol` the last column (default: 7). Terms
 *   beyond them are exact zeros, and adding a zero to a sum that starts at +0 never changes it, so skipping
 *   them (or adding zeros inside the bounds) leaves every sum, and the output, bit-identical.
 */
export function idctBlock(
  coefficients: Float32Array,
  n: number,
  out: Uint8Array,
  outWidth: number,
  outHeight: number,
  x0: number,
  y0: number,
  lastRow = 7,
  lastCol = 7,
): void {
  if (n === 1) {
    if (x0 < outWidth && y0 < outHeight) out[y0 * outWidth + x0] = clampToByte(coefficients[0] / 8 + 128);
    return;
  }
  if (n === 2) {
    idct2(coefficients, out, outWidth, outHeight, x0, y0, lastRow, lastCol);
    return;
  }
  const basis = BASIS[n];
  // Horizontal pass, row v of the coefficients -> work[v][X]; then the vertical pass over v, four outputs
  // at a time (N = 4 and 8 here; N = 2 took idct2 above).
  for (let v = 0; v <= lastRow; v++) {
    // Stryker disable next-line EqualityOperator: one step more fills work's next row (rewritten before it is read) or past its end (dropped) with sums nobody reads
    for (let X = 0; X < n; X += 4) {
      dot4(coefficients, v * 8, 1, lastCol, basis, X * 8);
      const w = v * 8 + X;
      work[w] = sums[0];
      work[w + 1] = sums[1];
      work[w + 2] = sums[2];
      work[w + 3] = sums[3];
    }
  }
  // Whether all n rows fit (columns past the right edge stop the loop below either way).
  const inside = y0 + n <= outHeight;
  for (let X = 0; X < n; X++) {
    const ox = x0 + X;
    if (ox >= outWidth) break;
    for (let Y = 0; Y < n; Y += 4) {
      dot4(work, X, 8, lastRow, basis, Y * 8);
      let o = (y0 + Y) * outWidth + ox;
      // Stryker disable next-line ConditionalExpression: false only sends every block through the clipped loop below, which writes the same pixels (true writes past the edge: the clipping test kills the same change on the line that sets inside)
      if (inside) {
        out[o] = clampToByte(sums[0] + 128);
        out[(o += outWidth)] = clampToByte(sums[1] + 128);
        out[(o += outWidth)] = clampToByte(sums[2] + 128);
        out[(o += outWidth)] = clampToByte(sums[3] + 128);
      } else {
        for (let k = 0; k < 4 && Y + k < n && y0 + Y + k < outHeight; k++, o += outWidth) out[o] = clampToByte(sums[k] + 128);
      }
    }
  }
}

/**
 * idctBlock at N = 2 (1/4 scale, what a 2,000-px film decodes at): the same sums in the same order as the four-wide
 * code, without the two outputs of each pass that are always zero there, and without the frequencies 2, 4 and 6,
 * whose basis values are zero at N = 2 (so the rows of those vertical frequencies need no horizontal pass either).
 * Its four sums live in locals rather than the shared work rows: a film's blocks nearly all come through here.
 */
function idct2(coefficients: Float32Array, out: Uint8Array, outWidth: number, outHeight: number, x0: number, y0: number, lastRow: number, lastCol: number): void {
  if (x0 >= outWidth || y0 >= outHeight) return;
  const basis = BASIS[2];
  // Output (X, Y) sums, in float64 like dot4's; the vertical pass is folded into the horizontal one's loop, which
  // adds each row's terms in the same ascending order the separate pass would.
  let sum00 = 0;
  let sum01 = 0;
  let sum10 = 0;
  let sum11 = 0;
  for (let v = 0; v <= lastRow; v = v === 0 ? 1 : v + 2) {
    const row = v * 8;
    let value = coefficients[row];
    let h0 = basis[0] * value;
    let h1 = basis[8] * value;
    for (let u = 1; u <= lastCol; u += 2) {
      value = coefficients[row + u];
      h0 += basis[u] * value;
      h1 += basis[8 + u] * value;
    }
    // The horizontal pass's results are stored as float32 (work) in the general code: round the same way.
    const w0 = Math.fround(h0);
    const w1 = Math.fround(h1);
    sum00 += basis[v] * w0;
    sum01 += basis[8 + v] * w0;
    sum10 += basis[v] * w1;
    sum11 += basis[8 + v] * w1;
  }
  const o = y0 * outWidth + x0;
  const right = x0 + 1 < outWidth;
  out[o] = clampToByte(sum00 + 128);
  if (right) out[o + 1] = clampToByte(sum10 + 128);
  if (y0 + 1 < outHeight) {
    out[o + outWidth] = clampToByte(sum01 + 128);
    if (right) out[o + outWidth + 1] = clampToByte(sum11 + 128);
  }
}

/**
 * Four sums of one pass, unrolled: sums[k] = sum over i <= last of basis[base + 8k + i] * src[offset + i * stride],
 * each in ascending i, the order the plain computation has.
 */
function dot4(src: Float32Array, offset: number, stride: number, last: number, basis: Float32Array, base: number): void {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0, j = offset; i <= last; i++, j += stride) {
    const value = src[j];
    s0 += basis[base + i] * value;
    s1 += basis[base + 8 + i] * value;
    s2 += basis[base + 16 + i] * value;
    s3 += basis[base + 24 + i] * value;
  }
  sums[0] = s0;
  sums[1] = s1;
  sums[2] = s2;
  sums[3] = s3;
}

/**
 * idctBlock for a block whose only nonzero coefficient is the (dequantised) DC: the same arithmetic, in the
 * same order and float32 roundings, so the result is bit-identical, written to all N x N pixels at once.
 */
export function idctFlat(dc: number, n: number, out: Uint8Array, outWidth: number, outHeight: number, x0: number, y0: number): void {
  let value: number;
  if (n === 1) value = clampToByte(dc / 8 + 128);
  else {
    const b = BASIS[n][0]; // the DC basis value is the same for every output position
    value = clampToByte(b * Math.fround(b * dc) + 128);
  }
  for (let Y = 0; Y < n && y0 + Y < outHeight; Y++) {
    const row = (y0 + Y) * outWidth;
    for (let X = 0; X < n && x0 + X < outWidth; X++) out[row + x0 + X] = value;
  }
}
