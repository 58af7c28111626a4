import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { rgbToLuma } from '../../src/image/decode';
import { applyOrientation } from '../../src/preprocess/orientation';
import { resizeLuma } from '../../src/preprocess/resize';
import { preprocessJpeg } from '../../src/preprocess';
import { buildFixtures } from '../helpers/fixtures';
import { encodeJpeg } from '../helpers/synthetic';

const LIMITS = { maxPixels: 50_000_000 };

function plane(width: number, height: number, f: (x: number, y: number) => number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = f(x, y);
  return out;
}

describe('luminance', () => {
  it('uses BT.601 weights and leaves grey unchanged', () => {
    const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 90, 90, 90, 255, 255, 255]);
    expect([...rgbToLuma(rgb, 5)]).toEqual([76, 150, 29, 90, 255]);
  });
});

describe('EXIF orientation', () => {
  // A 3x2 image with distinct values: 1 2 3 / 4 5 6
  const src = new Uint8Array([1, 2, 3, 4, 5, 6]);
  const cases: [number, number, number, number[]][] = [
    [1, 3, 2, [1, 2, 3, 4, 5, 6]],
    [2, 3, 2, [3, 2, 1, 6, 5, 4]],
    [3, 3, 2, [6, 5, 4, 3, 2, 1]],
    [4, 3, 2, [4, 5, 6, 1, 2, 3]],
    [5, 2, 3, [1, 4, 2, 5, 3, 6]],
    [6, 2, 3, [4, 1, 5, 2, 6, 3]],
    [7, 2, 3, [6, 3, 5, 2, 4, 1]],
    [8, 2, 3, [3, 6, 2, 5, 1, 4]],
  ];
  it.each(cases)('orientation %i', (orientation, width, height, expected) => {
    const out = applyOrientation(src, 3, 2, orientation);
    expect([out.width, out.height]).toEqual([width, height]);
    expect([...out.data]).toEqual(expected);
  });

  it('turns EXIF-tagged rotated JPEGs upright: same model input as the upright file', () => {
    const fixtures = buildFixtures();
    const upright = preprocessJpeg(fixtures['gray-baseline'], 256, LIMITS);
    for (const name of ['gray-exif-3', 'gray-exif-6', 'gray-exif-8']) {
      const rotated = preprocessJpeg(fixtures[name], 256, LIMITS);
      expect([rotated.source.width, rotated.source.height]).toEqual([300, 400]);
      let total = 0;
      for (let i = 0; i < upright.pixels.length; i++) total += Math.abs(upright.pixels[i] - rotated.pixels[i]);
      // Only JPEG re-quantisation differs; a wrong rotation gives a mean error of tens of levels.
      expect(total / upright.pixels.length).toBeLessThan(1.5);
    }
  });
});

describe('antialiased resize', () => {
  it('reproduces a smooth pattern (reference: the continuous function at output pixel centres) within 1.5 levels', () => {
    const f = (u: number, v: number) => 128 + 90 * Math.sin(2 * Math.PI * u) * Math.cos(Math.PI * v);
    for (const [w, h] of [[2048, 2048], [1000, 1400], [224, 224], [180, 300]]) {
      const src = plane(w, h, (x, y) => Math.round(f((x + 0.5) / w, (y + 0.5) / h)));
      const out = resizeLuma(src, w, h, 256, 256);
      let worst = 0;
      for (let y = 2; y < 254; y++) {
        for (let x = 2; x < 254; x++) worst = Math.max(worst, Math.abs(out[y * 256 + x] - f((x + 0.5) / 256, (y + 0.5) / 256)));
      }
      // Shrinking blurs a little (the tent spans 2 output pixels); enlarging interpolates.
      expect(worst, `${w}x${h}`).toBeLessThan(1.5);
    }
  });

  it('does not alias a one-pixel stripe pattern when shrinking 2048 px 8x', () => {
    const stripes = plane(2048, 2048, (x) => (x % 2 ? 255 : 0));
    const out = resizeLuma(stripes, 2048, 2048, 256, 256);
    // Interior: the tent averages exactly as many dark as bright stripes. The outermost output pixels see a
    // truncated filter (no pixels beyond the edge), so they may lean a few levels either way.
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        const interior = x > 0 && x < 255;
        expect(Math.abs(out[y * 256 + x] - 127.5)).toBeLessThanOrEqual(interior ? 1 : 6);
      }
    }
    // Nearest-neighbour sampling would give pure 0 or 255 here; a coarser 3-px stripe would give beats.
    const coarse = resizeLuma(plane(2048, 2048, (x) => (x % 3 === 0 ? 255 : 0)), 2048, 2048, 256, 256);
    for (let i = 0; i < coarse.length; i++) if (i % 256 > 0 && i % 256 < 255) expect(Math.abs(coarse[i] - 85)).toBeLessThanOrEqual(3);
  });

  it('returns a same-size image unchanged, as a copy', () => {
    const src = plane(256, 256, (x, y) => (x * 31 + y * 17) & 255);
    const out = resizeLuma(src, 256, 256, 256, 256);
    expect(out).toEqual(src);
    expect(out).not.toBe(src);
  });

  it('keeps a constant image constant at every size', () => {
    for (const [w, h] of [[1, 1], [7, 3000], [3000, 7], [256, 256]]) {
      expect(new Set(resizeLuma(new Uint8Array(w * h).fill(77), w, h, 256, 256))).toEqual(new Set([77]));
    }
  });
});

describe('preprocessJpeg', () => {
  it('gives the same input for one picture stored as a grayscale and as a 3-component JPEG, within JPEG error', async () => {
    const width = 320;
    const height = 400;
    const grey = plane(width, height, (x, y) => Math.round(128 + 60 * Math.sin(x / 23) * Math.cos(y / 31) + 40 * Math.exp(-(((x - 160) / 70) ** 2))));
    const rgb = new Uint8Array(grey.length * 3).map((_, i) => grey[Math.floor(i / 3)]);
    const oneComponent = await sharp(grey, { raw: { width, height, channels: 1 } }).toColourspace('b-w').jpeg({ quality: 95 }).toBuffer();
    const threeComponent = await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95, chromaSubsampling: '4:4:4' }).toBuffer();
    const a = preprocessJpeg(new Uint8Array(oneComponent), 256, LIMITS);
    const b = preprocessJpeg(new Uint8Array(threeComponent), 256, LIMITS);
    expect([a.source.components, b.source.components]).toEqual([1, 3]);
    let diff = 0;
    for (let i = 0; i < a.pixels.length; i++) diff = Math.max(diff, Math.abs(a.pixels[i] - b.pixels[i]));
    expect(diff).toBeLessThanOrEqual(3);
    // Baseline and progressive storage of the same grayscale picture agree too.
    const fixtures = buildFixtures();
    const progressive = preprocessJpeg(fixtures['gray-progressive'], 256, LIMITS);
    expect(progressive.source.progressive).toBe(true);
    const baseline = preprocessJpeg(fixtures['gray-baseline'], 256, LIMITS).pixels;
    expect(Math.max(...baseline.map((v, i) => Math.abs(v - progressive.pixels[i])))).toBeLessThanOrEqual(3);
  });

  it('decodes the same picture to the same luminance from RGB, Adobe CMYK and Adobe YCCK JPEGs', () => {
    const fixtures = buildFixtures();
    const reference = preprocessJpeg(fixtures['rgb-444-progressive'], 256, LIMITS).pixels;
    for (const name of ['cmyk-adobe', 'ycck-adobe', 'rgb-420']) {
      const other = preprocessJpeg(fixtures[name], 256, LIMITS);
      let total = 0;
      for (let i = 0; i < reference.length; i++) total += Math.abs(reference[i] - other.pixels[i]);
      expect(total / reference.length, name).toBeLessThan(2);
    }
  });

  it('reports the source size and components', () => {
    const out = preprocessJpeg(encodeJpeg(40, 30, () => 100), 256, LIMITS);
    expect(out.source).toEqual({ format: 'jpeg', width: 40, height: 30, components: 3, progressive: false });
    expect(out.pixels.length).toBe(256 * 256);
  });
});
