/**
 * The inverse DCT on its own (src/image/jpeg/idct.ts): against the textbook 8x8 IDCT (ITU T.81 A.3.3) averaged down
 * to N x N, bit for bit between its own paths (flat blocks, trimmed coefficient bounds), and clipped at the image's
 * right and bottom edges without touching a pixel outside its block.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom as random } from '../../scripts/export/split';
import { idctBlock, idctFlat } from '../../src/image/jpeg/idct';

const SCALES = [1, 2, 4, 8];

/** Dequantised coefficients as real blocks have them: large low frequencies, sparse small high ones. */
function randomBlock(next: () => number, lastRow = 7, lastCol = 7): Float32Array {
  const block = new Float32Array(64);
  for (let v = 0; v <= lastRow; v++) {
    for (let u = 0; u <= lastCol; u++) {
      if (u + v > 0 && next() < 0.4) continue;
      const range = u + v === 0 ? 1600 : 400 / (1 + u + v);
      block[v * 8 + u] = Math.round((next() * 2 - 1) * range);
    }
  }
  return block;
}

/** A.3.3 in float64, each N x N output the mean of its 8/N x 8/N pixels, level-shifted, rounded and clamped. */
function reference(coefficients: Float32Array, n: number): number[] {
  const c = (k: number) => (k === 0 ? Math.SQRT1_2 : 1);
  const full: number[] = [];
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 8; x++) {
      let sum = 0;
      for (let v = 0; v < 8; v++) {
        for (let u = 0; u < 8; u++) {
          sum += c(u) * c(v) * coefficients[v * 8 + u] * Math.cos(((2 * x + 1) * u * Math.PI) / 16) * Math.cos(((2 * y + 1) * v * Math.PI) / 16);
        }
      }
      full.push(sum / 4);
    }
  }
  const group = 8 / n;
  const out: number[] = [];
  for (let Y = 0; Y < n; Y++) {
    for (let X = 0; X < n; X++) {
      let sum = 0;
      for (let y = Y * group; y < (Y + 1) * group; y++) for (let x = X * group; x < (X + 1) * group; x++) sum += full[y * 8 + x];
      out.push(Math.min(255, Math.max(0, Math.round(sum / group / group + 128))));
    }
  }
  return out;
}

/** The N x N block decoded on a canvas of its own size. */
function decodeAlone(coefficients: Float32Array, n: number, lastRow = 7, lastCol = 7): number[] {
  const out = new Uint8Array(n * n);
  idctBlock(coefficients, n, out, n, n, 0, 0, lastRow, lastCol);
  return Array.from(out);
}

/**
 * Writes an N x N block at (N, N) on images that cut it after 0..N columns and rows (on a plane longer than the
 * image, as a reused buffer may be) and checks that exactly the pixels inside both the block and the image changed,
 * each to `pixel(X, Y)`.
 */
function expectClipped(n: number, write: (out: Uint8Array, width: number, height: number, x0: number, y0: number) => void, pixel: (X: number, Y: number) => number): void {
  const SENTINEL = 0xa5;
  const [x0, y0] = [n, n];
  for (let keepX = 0; keepX <= n; keepX++) {
    for (let keepY = 0; keepY <= n; keepY++) {
      // Uncut, the image goes one pixel further, so a write one step past the block would land inside it.
      const width = x0 + keepX + (keepX === n ? 1 : 0);
      const height = y0 + keepY + (keepY === n ? 1 : 0);
      const out = new Uint8Array(width * height + 2 * n * width).fill(SENTINEL);
      write(out, width, height, x0, y0);
      const expected = new Uint8Array(out.length).fill(SENTINEL);
      for (let Y = 0; Y < Math.min(n, height - y0); Y++) {
        for (let X = 0; X < Math.min(n, width - x0); X++) expected[(y0 + Y) * width + x0 + X] = pixel(X, Y);
      }
      expect(out, `n=${n}, ${keepX} columns and ${keepY} rows inside`).toEqual(expected);
    }
  }
}

describe('idctBlock', () => {
  it('matches the textbook IDCT, averaged to N x N, within one grey level', () => {
    const next = random(7);
    let worst = 0;
    for (let i = 0; i < 300; i++) {
      const block = randomBlock(next);
      for (const n of SCALES) {
        const got = decodeAlone(block, n);
        const want = reference(block, n);
        for (let p = 0; p < got.length; p++) worst = Math.max(worst, Math.abs(got[p] - want[p]));
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('gives exactly the same pixels when told where the nonzero coefficients end', () => {
    const next = random(11);
    for (let i = 0; i < 200; i++) {
      const lastRow = Math.floor(next() * 8);
      const lastCol = Math.floor(next() * 8);
      const block = randomBlock(next, lastRow, lastCol);
      for (const n of SCALES) expect(decodeAlone(block, n, lastRow, lastCol), `n=${n} rows<=${lastRow} cols<=${lastCol}`).toEqual(decodeAlone(block, n));
    }
  });

  it('clips at the right and bottom edges and writes nothing outside its block and the image', () => {
    const next = random(13);
    for (const n of SCALES) {
      const block = randomBlock(next);
      const alone = decodeAlone(block, n);
      expectClipped(n, (out, width, height, x0, y0) => idctBlock(block, n, out, width, height, x0, y0), (X, Y) => alone[Y * n + X]);
    }
  });
});

describe('idctFlat', () => {
  it('gives what idctBlock gives for a block with only a DC coefficient, at every scale and DC value', () => {
    for (const n of SCALES) {
      const mismatches: number[] = [];
      const block = new Float32Array(64);
      for (let dc = -8 * 1100; dc <= 8 * 1100; dc++) {
        block[0] = dc;
        const flat = new Uint8Array(n * n);
        idctFlat(dc, n, flat, n, n, 0, 0);
        const full = decodeAlone(block, n);
        if (!full.every((v, i) => v === flat[i])) mismatches.push(dc);
      }
      expect(mismatches, `n=${n}`).toEqual([]);
    }
  });

  it('clips at the right and bottom edges and writes nothing outside its block and the image', () => {
    // -800 / 8 + 128 = 28 everywhere in the block.
    for (const n of SCALES) expectClipped(n, (out, width, height, x0, y0) => idctFlat(-800, n, out, width, height, x0, y0), () => 28);
  });
});
