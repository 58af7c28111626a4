import { describe, expect, it } from 'vitest';
import { clampToByte } from '../../src/image/byte-rounding';

/** What clampToByte stands for: clamp to 0..255, round halves up. */
const definition = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));

describe('clampToByte', () => {
  it('is Math.round clamped to 0..255 at every half, next to it, and on 100,000 random samples', () => {
    const values = [NaN, -Infinity, -1e300, -0.5, -0, 0, 1e-300, 0.49999999999999994, 0.5, 254.5, 255, 255.49, 1e9, Infinity];
    for (let n = 0; n <= 256; n++) {
      for (const v of [n, n + 0.5]) values.push(v, v - Number.EPSILON * Math.max(1, v), v + Number.EPSILON * Math.max(1, v), v - 1e-9, v + 1e-9);
    }
    let seed = 1;
    for (let i = 0; i < 100_000; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      values.push((seed / 2 ** 32) * 300 - 20);
    }
    const out = new Uint8Array(1);
    for (const v of values) {
      out[0] = definition(v);
      expect(clampToByte(v), String(v)).toBe(out[0]);
    }
  });

  it('differs from truncating v + 0.5 exactly where that goes wrong', () => {
    expect((0.49999999999999994 + 0.5) | 0).toBe(1);
    expect(clampToByte(0.49999999999999994)).toBe(0);
  });
});
