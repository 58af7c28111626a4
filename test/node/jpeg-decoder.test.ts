/**
 * The decode-to-size JPEG decoder (src/image/jpeg) against two oracles: jpeg-js at full resolution,
 * and libjpeg-turbo's djpeg at the same DCT scale. Also: corrupt input only ever fails as ImageError.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageError } from '../../src/image/errors';
import sharp from 'sharp';
import { decodeJpegLuma } from '../../src/image/decode';
import { chooseScale, decodeScaledLuma } from '../../src/image/jpeg/decoder';
import { preprocessJpeg } from '../../src/preprocess';
import { ensurePythonEnv } from '../../scripts/export/python-env';
import { seededRandom } from '../../scripts/export/split';
import { FIXTURE_DIR, buildFixtures, realXrays } from '../helpers/fixtures';
import { fuzzCase } from '../helpers/fuzz';
import { baselineEntropyBomb, progressiveEntropyBomb, tableFlood } from '../helpers/bombs';
import { DJPEG, djpegLuma, jpegJsLuma, psnr } from '../helpers/jpeg-oracle';
import { IN_CI, MUTATED_GROUP, MUTATION_RUN, unlessMutating } from '../helpers/ci';

const SIZES = ['1024x1024:gray:q75', '2048x2048:rgb420:q95', '2048x2048:gray:progressive', '3000x4000:gray:q85', '1200x900:rgb444:progressive:q80', '1001x777:rgb420'];

/** Files to check: the Pillow fixtures, generated large images, and real X-rays (when ../shared is there). */
function corpus(): { name: string; file: string }[] {
  buildFixtures();
  const sizes = join(FIXTURE_DIR, 'sizes');
  if (!existsSync(join(sizes, '.done'))) {
    mkdirSync(sizes, { recursive: true });
    const python = ensurePythonEnv(() => undefined);
    const run = spawnSync(python, [new URL('../../scripts/bench/make_images.py', import.meta.url).pathname, sizes, ...SIZES], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(run.stderr);
    writeFileSync(join(sizes, '.done'), '');
  }
  const out = [join(FIXTURE_DIR, 'pillow'), sizes].flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.jpg'))
      // Under Stryker only the 300x400 Pillow files: larger images take minutes each through the instrumented decoder.
      // (and not the EXIF-rotated copies of gray-baseline: the same pixel loops, rotated only after decoding).
      .filter((f) => !MUTATION_RUN || (dir !== sizes && f !== 'rgb-large.jpg' && !f.startsWith('gray-exif')))
      .map((f) => ({ name: f, file: join(dir, f) })),
  );
  const real = MUTATION_RUN ? null : realXrays(4);
  if (real) {
    const dir = join(FIXTURE_DIR, 'real');
    mkdirSync(dir, { recursive: true });
    for (const x of real) {
      const file = join(dir, x.file.replace(/[^\w.]+/g, '_'));
      writeFileSync(file, x.bytes); // a scratch copy under test/.fixtures (git-ignored) for djpeg to read
      out.push({ name: `real ${x.file}`, file });
    }
  }
  return out;
}

const files = corpus();

// While Stryker mutates the pixel loops (jpeg-pixels), decoder-golden.test.ts pins the exact pixels of these same files,
// so a mutant these PSNR floors would catch is already dead; a surviving one would run them through instrumented
// loops for nothing.
const PIXELS_PINNED_ELSEWHERE = MUTATED_GROUP === 'jpeg-pixels';

describe.skipIf(PIXELS_PINNED_ELSEWHERE)('decoder against jpeg-js (full resolution)', () => {
  it.each(files.map((f) => [f.name, f.file]))('%s', (_, file) => {
    const bytes = new Uint8Array(readFileSync(file));
    const oracle = jpegJsLuma(bytes);
    const ours = decodeScaledLuma(bytes, oracle.width, oracle.height);
    expect([ours.width, ours.height, ours.scale]).toEqual([oracle.width, oracle.height, 1]);
    expect(psnr(ours.data, oracle.data)).toBeGreaterThanOrEqual(48);
  });
});

// Skipped only without djpeg (Debian's libjpeg-turbo-progs); .ci/run installs it and CI refuses to go without.
if (IN_CI && !existsSync(DJPEG)) throw new Error(`CI needs djpeg at ${DJPEG} (apt-get install libjpeg-turbo-progs)`);

describe.skipIf(!existsSync(DJPEG) || PIXELS_PINNED_ELSEWHERE)('decoder against libjpeg-turbo djpeg at the same scale: PSNR >= 60 dB', () => {
  const threeComponent = files.filter((f) => !/cmyk|ycck/.test(f.name)); // djpeg -grayscale cannot convert CMYK
  it.each(threeComponent.map((f) => [f.name, f.file]))('%s', (_, file) => {
    const bytes = new Uint8Array(readFileSync(file));
    for (const scale of [1, 2, 4, 8]) {
      const reference = djpegLuma(file, scale)!;
      const ours = decodeScaledLuma(bytes, reference.width, reference.height);
      expect(ours.scale, `1/${scale}`).toBe(scale);
      expect([ours.width, ours.height]).toEqual([reference.width, reference.height]);
      expect(psnr(ours.data, reference.data), `1/${scale}`).toBeGreaterThanOrEqual(60);
    }
  });
});

describe('decode-to-size', () => {
  it('picks the smallest DCT scale that keeps both sides at least the model input', () => {
    expect([chooseScale(3000, 4000, 256, 256), chooseScale(3000, 4000, 400, 256), chooseScale(3000, 4000, 751, 256), chooseScale(300, 400, 256, 256)]).toEqual([8, 4, 2, 1]);
    // A 12-megapixel decode takes minutes through Stryker's instrumented loops; chooseScale above is what it checks.
    if (!MUTATION_RUN) {
      const bytes = new Uint8Array(readFileSync(join(FIXTURE_DIR, 'sizes', '3000x4000-gray-q85.jpg')));
      expect(decodeScaledLuma(bytes, 256, 256)).toMatchObject({ scale: 8, width: 375, height: 500 });
      expect(decodeScaledLuma(bytes, 400, 256)).toMatchObject({ scale: 4, width: 750, height: 1000 });
    }
    const small = new Uint8Array(readFileSync(files.find((f) => f.name === 'gray-baseline.jpg')!.file));
    expect(decodeScaledLuma(small, 256, 256).scale).toBe(1); // 300x400: no reduction keeps 256
  });

  it.skipIf(MUTATION_RUN)('admits a 36-megapixel progressive JPEG under the default decode memory budget: at 1/8 scale only DC is kept', async () => {
    const side = 6000;
    const pixels = new Uint8Array(side * side);
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) pixels[y * side + x] = 60 + ((x * 7 + y * 3) >> 6) % 140;
    const jpeg = new Uint8Array(await sharp(pixels, { raw: { width: side, height: side, channels: 1 } }).jpeg({ progressive: true, quality: 80 }).toBuffer());
    const limits = { maxPixels: 50_000_000, maxDecodeBytes: 40 * 2 ** 20 }; // wrangler.toml's defaults
    const decoded = decodeJpegLuma(jpeg, limits, 256);
    expect(decoded).toMatchObject({ scale: 8, luma: { width: 750, height: 750 } });
    // Each output pixel is an 8x8 block mean of the pattern: within a level or two of the source's.
    expect(Math.abs(decoded.luma.data[375 * 750 + 375] - pixels[3004 * side + 3004])).toBeLessThan(4);
    // Asked for a larger copy (1/4 scale keeps every coefficient: 69 MiB), the same file is refused from its header.
    expect(() => decodeJpegLuma(jpeg, limits, 256, 1024)).toThrow(/needs 69 MiB/);
  });
});

describe('progressive scan limit', () => {
  it('refuses a progressive JPEG with more than 64 scans (a CPU bomb) as unsupported', () => {
    const good = buildFixtures()['gray-progressive'];
    let lastScan = -1;
    for (let i = 2; i < good.length - 1; i++) if (good[i] === 0xff && good[i + 1] === 0xda) lastScan = i;
    const eoi = good.length - 2;
    const scan = good.subarray(lastScan, eoi);
    const parts = [good.subarray(0, eoi), ...Array.from({ length: 70 }, () => scan), good.subarray(eoi)];
    const bomb = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((offset, p) => (bomb.set(p, offset), offset + p.length), 0);
    expect(() => preprocessJpeg(bomb, 256, { maxPixels: 1e8 })).toThrow(/more than 64 scans/);
    expect(() => preprocessJpeg(good, 256, { maxPixels: 1e8 })).not.toThrow();
  });
});

describe('entropy bombs (test/helpers/bombs.ts)', () => {
  // Before the padding limit each of these decoded to a 200: the first, 48.6 KB, in 17.6 s of CPU on this VM.
  it.each([
    ['progressive 2040x12000 with 63 AC scans and no data', progressiveEntropyBomb(2040, 12000, 63)],
    ['progressive 1024x1600 with 63 AC scans and no data', progressiveEntropyBomb(1024, 1600, 63)],
    ['baseline 2040x24500 with two zero bits a block', baselineEntropyBomb(2040, 24500, Math.ceil((255 * 3063 * 2) / 8))],
  ])('refuses a %s as invalid: it decodes zero bits past the end of its data', (_, bomb) => {
    expect(() => preprocessJpeg(bomb, 256, { maxPixels: 50_000_000 })).toThrow(
      new ImageError('invalid', 'Corrupt JPEG: the image data ends before the image does (truncated, or scans without data).'),
    );
  });
});

describe('table floods', () => {
  it('refuses more than 256 quantisation and Huffman tables before building them all, and accepts a file with 250', () => {
    const good = buildFixtures()['gray-baseline'];
    expect(() => preprocessJpeg(tableFlood(good, 300), 256, { maxPixels: 1e8 })).toThrow(
      new ImageError('unsupported', 'JPEGs with more than 256 quantisation and Huffman tables are not supported.'),
    );
    // The extra tables are unused (table 1 of class AC): the image decodes exactly as without them.
    const expected = preprocessJpeg(good, 256, { maxPixels: 1e8 }).pixels;
    expect(Buffer.from(preprocessJpeg(tableFlood(good, 250), 256, { maxPixels: 1e8 }).pixels).equals(Buffer.from(expected))).toBe(true);
  });
});

describe('corrupt input', () => {
  it('fails only with ImageError, never anything else, on 600 mutated JPEGs', () => {
    const fixtures = buildFixtures();
    const sources = ['gray-baseline', 'gray-progressive', 'rgb-420', 'rgb-444-progressive', 'cmyk-adobe', 'ycck-adobe'].map((name) => ({ name, bytes: fixtures[name] }));
    let failures = 0;
    for (let i = 0; i < unlessMutating(600, 40); i++) {
      const { bytes, mutation } = fuzzCase(sources, 1234, i);
      try {
        preprocessJpeg(bytes, 256, { maxPixels: 20_000_000 });
      } catch (error) {
        if (!(error instanceof ImageError)) throw new Error(`case ${i} (${mutation}): ${String(error)}`);
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(0); // the mutations do break things; all of it as ImageError
  });

  it('leaves nothing behind when it fails part-way: the next decode of a good file is unchanged', () => {
    const fixtures = buildFixtures();
    const good = fixtures['gray-baseline'];
    const expected = preprocessJpeg(good, 256, { maxPixels: 1e8 }).pixels;
    const sources = ['gray-baseline', 'rgb-420', 'gray-progressive'].map((name) => ({ name, bytes: fixtures[name] }));
    let failed = 0;
    const changedAfter: number[] = [];
    for (let i = 0; i < unlessMutating(400, 15); i++) {
      try {
        preprocessJpeg(fuzzCase(sources, 99, i).bytes, 256, { maxPixels: 20_000_000 });
      } catch (error) {
        if (!(error instanceof ImageError)) throw error; // only the expected kind of failure counts
        failed++;
      }
      if (!Buffer.from(preprocessJpeg(good, 256, { maxPixels: 1e8 }).pixels).equals(Buffer.from(expected))) changedAfter.push(i);
    }
    expect(changedAfter).toEqual([]);
    expect(failed).toBeGreaterThan(unlessMutating(100, 3));
  });

  it.each(['gray-baseline', 'rgb-420', 'gray-progressive', 'rgb-444-progressive'])(
    'refuses %s relabelled 4000x4000 (data far too short for its blocks) as invalid instead of decoding zero bits',
    (name) => {
      const bytes = buildFixtures()[name].slice();
      const sof = bytes.findIndex((b, i) => b === 0xff && (bytes[i + 1] === 0xc0 || bytes[i + 1] === 0xc2));
      bytes.set([4000 >> 8, 4000 & 0xff, 4000 >> 8, 4000 & 0xff], sof + 5);
      expect(() => decodeScaledLuma(bytes, 256, 256)).toThrow(new ImageError('invalid', 'Corrupt JPEG: the image data ends long before the image does.'));
      // The untouched file is long enough for its own blocks and decodes.
      expect(decodeScaledLuma(buildFixtures()[name], 256, 256).data.length).toBeGreaterThan(0);
    },
  );
});
