/**
 * Golden decodes: every fixture JPEG (test/fixtures/make_fixtures.py: the Pillow files and the tiny ones that cover
 * each decoder path) decodes at every DCT scale to exactly the pixels recorded in test/golden/jpeg-decoder.json.
 *
 * Why exact: the model was trained on this decoder's output (PREPROCESSING_ID names it), so a change that moves a
 * pixel by one grey level changes what the model sees. jpeg-decoder.test.ts checks the decoder against djpeg and
 * jpeg-js with a PSNR floor (they round differently, so it cannot be exact there); this file pins the pixels
 * themselves, and the tiny files make it cheap enough to be the first test a mutant of the pixel loops meets
 * (`npm run mutate -- --group jpeg-pixels`).
 *
 * A deliberate change to the decoder's output comes with a new PREPROCESSING_ID and a retrained model; then rewrite
 * the file with `UPDATE_GOLDEN=1 npx vitest run --project node test/node/decoder-golden.test.ts` and say why in the
 * commit.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readJpegHeader } from '../../src/image/jpeg-header';
import { decodeScaledLuma } from '../../src/image/jpeg/decoder';
import { PREPROCESSING_ID } from '../../src/preprocess';
import { MUTATED_GROUP, MUTATION_RUN } from '../helpers/ci';
import { FIXTURE_DIR, buildFixtures } from '../helpers/fixtures';
import { DJPEG, djpegLuma, psnr } from '../helpers/jpeg-oracle';

const GOLDEN = new URL('../golden/jpeg-decoder.json', import.meta.url).pathname;
const UPDATE = process.env.UPDATE_GOLDEN === '1' && !MUTATION_RUN;
const SCALES = [1, 2, 4, 8];

interface Golden {
  preprocessing: string;
  /** fixture name -> the sha256 of its bytes, and per scale `WxH sha256-of-pixels`. */
  files: Record<string, { input: string; decoded: Record<string, string> }>;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** The fixtures, tiny ones first (a mutant dies on the first file whose pixels it changes). */
function fixtureFiles(): { name: string; file: string }[] {
  buildFixtures();
  const pillow = join(FIXTURE_DIR, 'pillow');
  const tiny = join(pillow, 'tiny');
  const list = (dir: string, prefix: string) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .map((f) => ({ name: `${prefix}${f}`, file: join(dir, f) }));
  // Under Stryker the tiny files take every path the 300x400 ones do, in a fraction of the instrumented time; only
  // YCCK has no tiny file (its round-trip check needs a smooth image).
  return [...list(tiny, 'tiny/'), ...list(pillow, '').filter((f) => !MUTATION_RUN || f.name === 'ycck-adobe.jpg')];
}

/** The decoder's output at 1/scale: its size and the sha256 of its pixels. */
function decodedAt(bytes: Uint8Array, width: number, height: number, scale: number): string {
  const out = decodeScaledLuma(bytes, Math.ceil(width / scale), Math.ceil(height / scale));
  expect(out.scale).toBe(scale);
  return `${out.width}x${out.height} ${sha256(out.data)}`;
}

const files = fixtureFiles();
const golden: Golden = existsSync(GOLDEN) ? JSON.parse(readFileSync(GOLDEN, 'utf8')) : { preprocessing: PREPROCESSING_ID, files: {} };

describe('golden decodes (test/golden/jpeg-decoder.json)', () => {
  it('were recorded for this preprocessing and cover every fixture', () => {
    if (UPDATE) return;
    expect(golden.preprocessing).toBe(PREPROCESSING_ID);
    expect(Object.keys(golden.files).sort()).toEqual(expect.arrayContaining(files.map((f) => f.name).sort()));
  });

  it.each(files.map((f) => [f.name, f.file]))('%s: the same pixels at 1/1, 1/2, 1/4 and 1/8', (name, file) => {
    const bytes = new Uint8Array(readFileSync(file));
    const size = decodeScaledLuma(bytes, 1, 1); // 1/8 scale, to learn the full size: ceil(side / 8)
    const header = readJpegHeader(bytes);
    expect([size.width, size.height]).toEqual([Math.ceil(header.width / 8), Math.ceil(header.height / 8)]);
    const decoded = Object.fromEntries(SCALES.map((s) => [String(s), decodedAt(bytes, header.width, header.height, s)]));
    if (UPDATE) {
      golden.files[name] = { input: sha256(bytes), decoded };
      return;
    }
    const recorded = golden.files[name];
    expect(recorded, `${name} has no golden entry: UPDATE_GOLDEN=1 records one`).toBeDefined();
    expect(sha256(bytes), `${name} is not the file the hashes were taken from (did the fixture encoder change?)`).toBe(recorded.input);
    expect(decoded).toEqual(recorded.decoded);
  });

  if (UPDATE) {
    it('rewrites the golden file', () => {
      golden.preprocessing = PREPROCESSING_ID;
      golden.files = Object.fromEntries(Object.entries(golden.files).sort(([a], [b]) => (a < b ? -1 : 1)));
      writeFileSync(GOLDEN, `${JSON.stringify(golden, null, 1)}\n`);
    });
  }
});

// The recorded pixels are worth pinning only if they are right: the tiny files against libjpeg-turbo too.
// (Not while Stryker mutates the pixel loops: the golden hashes above already kill whatever this could.)
describe.skipIf(!existsSync(DJPEG) || MUTATED_GROUP === 'jpeg-pixels')('tiny fixtures against djpeg at the same scale', () => {
  it.each(files.filter((f) => f.name.startsWith('tiny/') && !/cmyk/.test(f.name)).map((f) => [f.name, f.file]))('%s', (_, file) => {
    const bytes = new Uint8Array(readFileSync(file));
    for (const scale of SCALES) {
      const reference = djpegLuma(file, scale)!;
      const ours = decodeScaledLuma(bytes, reference.width, reference.height);
      expect([ours.width, ours.height, ours.scale]).toEqual([reference.width, reference.height, scale]);
      expect(psnr(ours.data, reference.data), `1/${scale}`).toBeGreaterThanOrEqual(60); // measured: 64.2 dB at the lowest (2026-12-01)
    }
  });
});
