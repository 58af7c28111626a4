/**
 * Inverse DCT of an 8x8 block straight to N x N pixels (N = 8, 4, 2 or 1). Each output pixel is the
 * mean of the 8/N x 8/N pixels the full 8x8 IDCT would give there - the same definition as
 * libjpeg's reduced-size IDCTs (jidctred.c) - computed with a precomputed N x 8 basis per axis, so a
 * reduced block costs a fraction of a full one. At N = 1 this is the block mean, F(0,0) / 8.
 */

/** basis[N][X * 8 + u]: mean over the 8/N full-size positions x of output X of c(u) cos((2x+1) u pi / 16) / 2. */
const BASIS: Record<number, Float32Array> = {};
for (const n of [1, 2, 4, 8]) {
  const group = 8 / n;
  const table = new Float32Array(n * 8);
  for (let X = 0; X < n; X++) {
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let x = X * group; x < (X + 1) * group; x++) sum += (u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
      table[X * 8 + u] = sum / group / 2;
    }
  }
  BASIS[n] = table;
}

/** Zig-zag position -> natural (row-major 8x8) index. */
export const ZIGZAG = new Uint8Array([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35,
  42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62,
  63,
]);

const work = new Float32Array(64);

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
    if (x0 < outWidth && y0 < outHeight) out[y0 * outWidth + x0] = clamp(coefficients[0] / 8 + 128);
    return;
  }
  if (n === 4) return idct4(coefficients, out, outWidth, outHeight, x0, y0, lastRow, lastCol);
  if (n === 8) return idct8(coefficients, out, outWidth, outHeight, x0, y0, lastRow, lastCol);
  const basis = BASIS[n];
  // Horizontal pass, row v of the coefficients -> work[v][X]; then the vertical pass over v. Each sum
  // runs over u (then v) in ascending order, the order every variant here keeps.
  for (let v = 0; v <= lastRow; v++) {
    const row = v * 8;
    for (let X = 0; X < n; X++) {
      let sum = 0;
      const b = X * 8;
      for (let u = 0; u <= lastCol; u++) sum += basis[b + u] * coefficients[row + u];
      work[row + X] = sum;
    }
  }
  for (let Y = 0; Y < n; Y++) {
    const oy = y0 + Y;
    if (oy >= outHeight) break;
    const b = Y * 8;
    for (let X = 0; X < n; X++) {
      const ox = x0 + X;
      if (ox >= outWidth) break;
      let sum = 0;
      for (let v = 0; v <= lastRow; v++) sum += basis[b + v] * work[v * 8 + X];
      out[oy * outWidth + ox] = clamp(sum + 128);
    }
  }
}

const BASIS4 = BASIS[4];

/** idctBlock at N = 4 (what a 2000-px upload decodes at), unrolled over the four outputs of each pass. */
function idct4(coefficients: Float32Array, out: Uint8Array, outWidth: number, outHeight: number, x0: number, y0: number, lastRow: number, lastCol: number): void {
  const basis = BASIS4;
  for (let v = 0; v <= lastRow; v++) {
    const row = v * 8;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let u = 0; u <= lastCol; u++) {
      const c = coefficients[row + u];
      s0 += basis[u] * c;
      s1 += basis[8 + u] * c;
      s2 += basis[16 + u] * c;
      s3 += basis[24 + u] * c;
    }
    work[row] = s0;
    work[row + 1] = s1;
    work[row + 2] = s2;
    work[row + 3] = s3;
  }
  const inside = x0 + 4 <= outWidth && y0 + 4 <= outHeight;
  for (let X = 0; X < 4; X++) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let v = 0; v <= lastRow; v++) {
      const w = work[v * 8 + X];
      s0 += basis[v] * w;
      s1 += basis[8 + v] * w;
      s2 += basis[16 + v] * w;
      s3 += basis[24 + v] * w;
    }
    const ox = x0 + X;
    if (inside) {
      const o = y0 * outWidth + ox;
      out[o] = clamp(s0 + 128);
      out[o + outWidth] = clamp(s1 + 128);
      out[o + 2 * outWidth] = clamp(s2 + 128);
      out[o + 3 * outWidth] = clamp(s3 + 128);
    } else if (ox < outWidth) {
      const sums = [s0, s1, s2, s3];
      for (let Y = 0; Y < 4 && y0 + Y < outHeight; Y++) out[(y0 + Y) * outWidth + ox] = clamp(sums[Y] + 128);
    }
  }
}

const BASIS8 = BASIS[8];

/** idctBlock at N = 8 (uploads under 512 px), unrolled over the eight outputs of each pass. */
function idct8(coefficients: Float32Array, out: Uint8Array, outWidth: number, outHeight: number, x0: number, y0: number, lastRow: number, lastCol: number): void {
  const basis = BASIS8;
  for (let v = 0; v <= lastRow; v++) {
    const row = v * 8;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let s4 = 0;
    let s5 = 0;
    let s6 = 0;
    let s7 = 0;
    for (let u = 0; u <= lastCol; u++) {
      const c = coefficients[row + u];
      s0 += basis[u] * c;
      s1 += basis[8 + u] * c;
      s2 += basis[16 + u] * c;
      s3 += basis[24 + u] * c;
      s4 += basis[32 + u] * c;
      s5 += basis[40 + u] * c;
      s6 += basis[48 + u] * c;
      s7 += basis[56 + u] * c;
    }
    work[row] = s0;
    work[row + 1] = s1;
    work[row + 2] = s2;
    work[row + 3] = s3;
    work[row + 4] = s4;
    work[row + 5] = s5;
    work[row + 6] = s6;
    work[row + 7] = s7;
  }
  const inside = x0 + 8 <= outWidth && y0 + 8 <= outHeight;
  for (let X = 0; X < 8; X++) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    let s4 = 0;
    let s5 = 0;
    let s6 = 0;
    let s7 = 0;
    for (let v = 0; v <= lastRow; v++) {
      const w = work[v * 8 + X];
      s0 += basis[v] * w;
      s1 += basis[8 + v] * w;
      s2 += basis[16 + v] * w;
      s3 += basis[24 + v] * w;
      s4 += basis[32 + v] * w;
      s5 += basis[40 + v] * w;
      s6 += basis[48 + v] * w;
      s7 += basis[56 + v] * w;
    }
    const ox = x0 + X;
    if (inside) {
      let o = y0 * outWidth + ox;
      out[o] = clamp(s0 + 128);
      out[(o += outWidth)] = clamp(s1 + 128);
      out[(o += outWidth)] = clamp(s2 + 128);
      out[(o += outWidth)] = clamp(s3 + 128);
      out[(o += outWidth)] = clamp(s4 + 128);
      out[(o += outWidth)] = clamp(s5 + 128);
      out[(o += outWidth)] = clamp(s6 + 128);
      out[(o += outWidth)] = clamp(s7 + 128);
    } else if (ox < outWidth) {
      const sums = [s0, s1, s2, s3, s4, s5, s6, s7];
      for (let Y = 0; Y < 8 && y0 + Y < outHeight; Y++) out[(y0 + Y) * outWidth + ox] = clamp(sums[Y] + 128);
    }
  }
}

/**
 * idctBlock for a block whose only nonzero coefficient is the (dequantised) DC: the same arithmetic, in the
 * same order and float32 roundings, so the result is bit-identical, written to all N x N pixels at once.
 */
export function idctFlat(dc: number, n: number, out: Uint8Array, outWidth: number, outHeight: number, x0: number, y0: number): void {
  let value: number;
  if (n === 1) value = clamp(dc / 8 + 128);
  else {
    const b = BASIS[n][0]; // the DC basis value is the same for every output position
    value = clamp(b * Math.fround(b * dc) + 128);
  }
  for (let Y = 0; Y < n && y0 + Y < outHeight; Y++) {
    const row = (y0 + Y) * outWidth;
    for (let X = 0; X < n && x0 + X < outWidth; X++) out[row + x0 + X] = value;
  }
}

function clamp(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}
