import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { rgbToLuma } from '../../src/image/decode';
import { applyOrientation } from '../../src/preprocess/orientation';
import { axisWeights, resizeLuma } from '../../src/preprocess/resize';
import { detectFormat, preprocessImage, preprocessJpeg } from '../../src/preprocess';
import { ImageError } from '../../src/image/errors';
import { nativeRadiograph } from '../helpers/dicom';
import { buildFixtures } from '../helpers/fixtures';
import { encodeJpeg } from '../helpers/synthetic';
import { unlessMutating } from '../helpers/ci';

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
    // Not an EXIF orientation: left as it is.
    [0, 3, 2, [1, 2, 3, 4, 5, 6]],
    [9, 3, 2, [1, 2, 3, 4, 5, 6]],
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
  // 2048 px (8x); under Stryker's instrumented code 1024 px (4x), which takes the same paths.
  const STRIPES_SIDE = unlessMutating(2048, 1024);
  it('reproduces a smooth pattern (reference: the continuous function at output pixel centres) within 1.5 levels', () => {
    const f = (u: number, v: number) => 128 + 90 * Math.sin(2 * Math.PI * u) * Math.cos(Math.PI * v);
    for (const [w, h] of [[STRIPES_SIDE, STRIPES_SIDE], [1000, 1400], [224, 224], [180, 300]]) {
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

  it(`does not alias a one-pixel stripe pattern when shrinking ${STRIPES_SIDE} px ${STRIPES_SIDE / 256}x`, () => {
    const stripes = plane(STRIPES_SIDE, STRIPES_SIDE, (x) => (x % 2 ? 255 : 0));
    const out = resizeLuma(stripes, STRIPES_SIDE, STRIPES_SIDE, 256, 256);
    // Interior: the tent averages exactly as many dark as bright stripes. The outermost output pixels see a
    // truncated filter (no pixels beyond the edge), so they may lean a few levels either way.
    for (let y = 0; y < 256; y++) {
      for (let x = 0; x < 256; x++) {
        const interior = x > 0 && x < 255;
        expect(Math.abs(out[y * 256 + x] - 127.5)).toBeLessThanOrEqual(interior ? 1 : STRIPES_SIDE === 2048 ? 6 : 10);
      }
    }
    // Nearest-neighbour sampling would give pure 0 or 255 here; a coarser 3-px stripe would give beats.
    const coarse = resizeLuma(plane(STRIPES_SIDE, STRIPES_SIDE, (x) => (x % 3 === 0 ? 255 : 0)), STRIPES_SIDE, STRIPES_SIDE, 256, 256);
    for (let i = 0; i < coarse.length; i++) if (i % 256 > 0 && i % 256 < 255) expect(Math.abs(coarse[i] - 85)).toBeLessThanOrEqual(STRIPES_SIDE === 2048 ? 3 : 6);
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

describe('resize edge cases', () => {
  it('resizes when only one side changes (the same-size shortcut needs both)', () => {
    const wide = plane(300, 256, (x, y) => (x * 3 + y) & 255);
    const tall = plane(256, 300, (x, y) => (x + y * 3) & 255);
    for (const [src, w, h] of [[wide, 300, 256], [tall, 256, 300]] as const) {
      const out = resizeLuma(src, w, h, 256, 256);
      expect(out).toHaveLength(256 * 256);
      // The unchanged axis is copied, the other resampled: compare with resizing twice, one axis at a time.
      const reference = resizeLuma(resizeLuma(src, w, h, 256, h), 256, h, 256, 256);
      expect(Math.max(...out.map((v, i) => Math.abs(v - reference[i])))).toBeLessThanOrEqual(1);
    }
  });

  it('keeps full black and full white exactly, and mid-grey steps in between', () => {
    const edges = plane(64, 64, (x) => (x < 32 ? 0 : 255));
    const out = resizeLuma(edges, 64, 64, 16, 16);
    expect(out[0]).toBe(0);
    expect(out[15]).toBe(255);
    expect(new Set(out.subarray(0, 7))).toEqual(new Set([0]));
    expect(out[7]).toBeGreaterThan(0);
    expect(out[8]).toBeLessThan(255);
  });
});

describe('resize loops', () => {
  /** The filter as its definition reads: each output pixel's row sums (float32), then its column sum, rounded. */
  function definition(data: Uint8Array, width: number, height: number, outWidth: number, outHeight: number): Uint8Array {
    const h = axisWeights(width, outWidth);
    const v = axisWeights(height, outHeight);
    const rows = new Float32Array(height * outWidth);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < outWidth; x++) {
        let sum = 0;
        for (let k = 0; k < h.count[x]; k++) sum += data[y * width + h.start[x] + k] * h.weights[x * h.taps + k];
        rows[y * outWidth + x] = sum;
      }
    }
    return Uint8Array.from({ length: outWidth * outHeight }, (_, i) => {
      const [y, x] = [Math.floor(i / outWidth), i % outWidth];
      let sum = 0;
      for (let k = 0; k < v.count[y]; k++) sum += rows[(v.start[y] + k) * outWidth + x] * v.weights[y * v.taps + k];
      return Math.round(sum);
    });
  }

  it("gives the definition's bits through the 5- and 7-tap loops and the general one", () => {
    // Windows of 3, 5, 7 and 9 taps on each axis, and inputs shorter than their window.
    const sizes = [[256, 300], [450, 560], [500, 500], [620, 725], [640, 1000], [3, 700], [700, 4], [6, 6]];
    const taps = new Set<number>();
    for (const [w, h] of sizes) {
      const src = plane(w, h, (x, y) => (Math.imul(x * 131 + y * 7919, 2654435761) >>> 24) & 255);
      for (const [ow, oh] of [[256, 256], [37, 300]]) {
        taps.add(axisWeights(w, ow).taps).add(axisWeights(h, oh).taps);
        expect(Buffer.from(resizeLuma(src, w, h, ow, oh)).equals(Buffer.from(definition(src, w, h, ow, oh))), `${w}x${h} to ${ow}x${oh}`).toBe(true);
      }
    }
    expect([3, 5, 7, 9].every((t) => taps.has(t))).toBe(true);
    // Windows of 5 and 7 taps on inputs shorter than that (2 and 3 pixels shrunk to 1).
    for (const [w, h] of [[2, 2], [3, 3], [2, 3]]) {
      const src = plane(w, h, (x, y) => 40 * x + 90 * y + 7);
      expect(Array.from(resizeLuma(src, w, h, 1, 1)), `${w}x${h} to 1x1`).toEqual(Array.from(definition(src, w, h, 1, 1)));
    }
  });
});

describe('preprocessImage', () => {
  const radiograph = (width = 64, height = 48) =>
    nativeRadiograph({ width, height, samples: Uint16Array.from({ length: width * height }, (_, i) => (i * 37) % 4096), bitsAllocated: 16, bitsStored: 12 });

  it('tells the format from the bytes: a JPEG SOI, a DICOM preamble, or neither', () => {
    expect(detectFormat(new Uint8Array([0xff, 0xd8]))).toBe('jpeg');
    expect(detectFormat(buildFixtures()['gray-baseline'])).toBe('jpeg');
    expect(detectFormat(radiograph())).toBe('dicom');
    for (const bytes of [[], [0xff], [0xff, 0xd9], [0xfe, 0xd8], [0x00, 0xd8, 0xff]]) expect(detectFormat(new Uint8Array(bytes)), String(bytes)).toBeNull();
  });

  it('refuses bytes that contradict the declared format, naming both', () => {
    const jpeg = buildFixtures()['gray-baseline'];
    expect(() => preprocessImage(radiograph(), 256, { ...LIMITS, declaredFormat: 'jpeg' })).toThrow(
      new ImageError('invalid', 'The upload was declared image/jpeg, but the bytes are application/dicom.'),
    );
    expect(() => preprocessImage(jpeg, 256, { ...LIMITS, declaredFormat: 'dicom' })).toThrow(
      new ImageError('invalid', 'The upload was declared application/dicom, but the bytes are image/jpeg.'),
    );
    expect(() => preprocessImage(new Uint8Array([1, 2, 3]), 256, { ...LIMITS, declaredFormat: 'jpeg' })).toThrow(
      new ImageError('invalid', 'The upload was declared image/jpeg, but the bytes are neither JPEG nor DICOM.'),
    );
    // Agreeing or undeclared: decoded.
    expect(preprocessImage(jpeg, 256, { ...LIMITS, declaredFormat: 'jpeg' }).source.format).toBe('jpeg');
    expect(preprocessImage(radiograph(), 256, { ...LIMITS, declaredFormat: 'dicom' }).source.format).toBe('dicom');
    expect(preprocessImage(jpeg, 256, LIMITS).pixels).toEqual(preprocessJpeg(jpeg, 256, LIMITS).pixels);
  });

  it('decodes a DICOM to the model input, with its source and, when asked, an aspect-kept display copy', () => {
    const out = preprocessImage(radiograph(64, 48), 32, LIMITS);
    expect(out.pixels).toHaveLength(32 * 32);
    expect(out.size).toBe(32);
    expect(out.source).toMatchObject({ format: 'dicom', width: 64, height: 48, components: 1, progressive: false, dicom: { bitsStored: 12 } });
    expect(out.display).toBeUndefined();
    const shown = preprocessImage(radiograph(64, 48), 32, { ...LIMITS, displayLongSide: 40 });
    expect([shown.display?.width, shown.display?.height]).toEqual([40, 30]);
    expect(shown.display?.data).toHaveLength(40 * 30);
    // Never enlarged beyond the source.
    const capped = preprocessImage(radiograph(64, 48), 32, { ...LIMITS, displayLongSide: 1000 });
    expect([capped.display?.width, capped.display?.height]).toEqual([64, 48]);
    // A sliver keeps at least one pixel across.
    const sliver = preprocessImage(radiograph(400, 1), 32, { ...LIMITS, displayLongSide: 100 });
    expect([sliver.display?.width, sliver.display?.height]).toEqual([100, 1]);
  });

  it('gives a JPEG\'s display copy upright, sized from its upright sides', () => {
    const fixtures = buildFixtures();
    const upright = preprocessJpeg(fixtures['gray-baseline'], 256, { ...LIMITS, displayLongSide: 200 });
    expect([upright.display?.width, upright.display?.height]).toEqual([150, 200]);
    for (const name of ['gray-exif-6', 'gray-exif-8', 'gray-exif-3']) {
      const rotated = preprocessJpeg(fixtures[name], 256, { ...LIMITS, displayLongSide: 200 });
      expect([rotated.display?.width, rotated.display?.height], name).toEqual([150, 200]);
      let total = 0;
      for (let i = 0; i < upright.display!.data.length; i++) total += Math.abs(upright.display!.data[i] - rotated.display!.data[i]);
      expect(total / upright.display!.data.length, name).toBeLessThan(2);
    }
    expect(preprocessJpeg(fixtures['gray-baseline'], 256, LIMITS).display).toBeUndefined();
  });

  it('swaps the reported sides for orientation 5 (transpose) as for 6 to 8', () => {
    // gray-exif-6 with its orientation tag rewritten to 5: stored 400x300, shown 300x400.
    const bytes = withOrientation(buildFixtures()['gray-exif-6'], 5);
    const out = preprocessJpeg(bytes, 256, LIMITS);
    expect([out.source.width, out.source.height]).toEqual([300, 400]);
    expect([withOrientation(bytes, 4)].map((b) => preprocessJpeg(b, 256, LIMITS).source)).toMatchObject([{ width: 400, height: 300 }]);
  });
});

/** A copy of an EXIF-tagged JPEG with its orientation (tag 0x0112, SHORT) set to `orientation`. */
function withOrientation(jpeg: Uint8Array, orientation: number): Uint8Array {
  const out = jpeg.slice();
  for (let i = 0; i + 10 < out.length; i++) {
    if (out[i] === 0x01 && out[i + 1] === 0x12 && out[i + 2] === 0x00 && out[i + 3] === 0x03) {
      out[i + 9] = orientation; // big-endian ("MM"): the value's low byte
      return out;
    }
    if (out[i] === 0x12 && out[i + 1] === 0x01 && out[i + 2] === 0x03 && out[i + 3] === 0x00) {
      out[i + 8] = orientation; // little-endian ("II")
      return out;
    }
  }
  throw new Error('no orientation tag');
}

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
