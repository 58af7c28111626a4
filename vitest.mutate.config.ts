/**
 * The test runs Stryker mutates against (`npm run mutate`, scripts/mutate.ts): for each group of source folders,
 * the Node tests that exercise it directly. Stryker switches mutants inside the test process, so it cannot reach
 * code running in workerd (the Worker tests); these units cover the same modules in Node. MUTATE_GROUP picks the
 * group (scripts/mutate.ts sets it); without it, all of them. `npm test` runs the same files in its `node` project.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

// The JPEG decoder is split just before chooseScale's doc comment: the marker loop and frame header above it are
// parsing (mutated with the format tests), the pixel loops below it go with jpeg-pixels.
const DECODER = readFileSync(new URL('./src/image/jpeg/decoder.ts', import.meta.url), 'utf8').split('\n');
const DECODER_SPLIT = DECODER.findIndex((line) => line.startsWith('export function chooseScale')) - 1;

const IMAGE_TESTS = [
  'test/node/image-formats.test.ts',
  'test/node/byte-rounding.test.ts',
  'test/node/jpeg-markers.test.ts',
  'test/node/jpeg-scans.test.ts',
  'test/node/dicom-formats.test.ts',
  'test/node/decoder-golden.test.ts',
  'test/node/jpeg-decoder.test.ts',
  'test/node/jpeg-extended.test.ts',
  'test/node/jpeg-lossless.test.ts',
  'test/node/dicom.test.ts',
  // The DICOM frame-header pre-check is segments.ts's one caller that meets every marker (DHT among them).
  'test/node/dicom-frames.test.ts',
];

export const MUTATION_GROUPS = {
  service: { mutate: ['src/auth/**/*.ts', 'src/metering/**/*.ts', 'src/http/**/*.ts'], tests: ['test/node/auth.test.ts', 'test/node/metering.test.ts', 'test/node/http.test.ts'] },
  preprocess: { mutate: ['src/preprocess/**/*.ts'], tests: ['test/node/preprocess.test.ts'] },
  // src/image in three passes. Instrumented code runs 30-150x slower in per-pixel loops, so the parsers and checks
  // (formats) are mutated with the pixel loops running at full speed, and the pixel loops on their own.
  'image-formats': {
    mutate: [
      'src/image/*.ts',
      'src/image/jpeg/segments.ts',
      // The decoder's marker loop and frame header (everything before chooseScale): parsing, not pixel loops.
      `src/image/jpeg/decoder.ts:1-${DECODER_SPLIT}`,
      'src/image/dicom/{file,dataset,tags,transfer-syntaxes,header-checks,pixel-module}.ts',
    ],
    tests: IMAGE_TESTS,
  },
  // The pixel loops, split so that a surviving mutant (which runs every test that covers it) runs only the tests of
  // its own decoder. The unit tests of the entropy layer and the IDCT come first, then the hand-written scans and the
  // golden decodes (tiny files, exact pixels), so most mutants die within milliseconds.
  'jpeg-pixels': {
    mutate: [`src/image/jpeg/decoder.ts:${DECODER_SPLIT + 1}-100000`, 'src/image/jpeg/{huffman,idct}.ts'],
    tests: ['test/node/jpeg-entropy.test.ts', 'test/node/jpeg-idct.test.ts', 'test/node/jpeg-scans.test.ts', 'test/node/decoder-golden.test.ts', 'test/node/jpeg-decoder.test.ts', 'test/node/image-formats.test.ts'],
  },
  'dicom-pixels': {
    mutate: ['src/image/dicom/{decode,grayscale-pipeline}.ts', 'src/image/dicom/codecs/*.ts'],
    tests: [
      'test/node/dicom-grayscale.test.ts',
      'test/node/dicom-rle.test.ts',
      'test/node/dicom-frames.test.ts',
      'test/node/jpeg-lossless-streams.test.ts',
      'test/node/jpeg-lossless.test.ts',
      'test/node/jpeg-extended-streams.test.ts',
      'test/node/jpeg-markers.test.ts',
      'test/node/jpeg-extended.test.ts',
      'test/node/dicom.test.ts',
      'test/node/dicom-formats.test.ts',
    ],
  },
} as const;

const group = process.env.MUTATE_GROUP as keyof typeof MUTATION_GROUPS | undefined;
const include = group ? [...MUTATION_GROUPS[group].tests] : Object.values(MUTATION_GROUPS).flatMap((g) => [...g.tests]);

/**
 * Runs test files in the order listed (the small, exact unit files first). Stryker stops at a mutant's first failing
 * test, so the order decides how much a killed mutant costs; vitest's own order puts the slowest files first.
 */
class ListedOrder extends BaseSequencer {
  async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = include.indexOf(relative(process.cwd(), f.moduleId));
      return i < 0 ? include.length : i;
    };
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

export default defineConfig({
  resolve: { alias: { 'cloudflare:workers': new URL('./test/helpers/cloudflare-workers-shim.ts', import.meta.url).pathname } },
  test: {
    include,
    sequence: { sequencer: ListedOrder },
    environment: 'node',
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
});
