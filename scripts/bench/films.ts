/**
 * The headline images of the speed measurements (`npm run bench`, scripts/bench/decoder-stages.ts,
 * scripts/bench/ab-decode.ts): the full-size films of ../shared/data/large as stored, and the same re-encoded as
 * grayscale JPEG at quality 90 (as PACS exports usually look) by sharp in a temp folder, never committed.
 * One component: sharp's `grayscale()` alone writes a 3-component JPEG whose chroma is flat (until 2026-12-02 the
 * q90 rows measured those), `toColourspace('b-w')` a grayscale one.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

/** The JPEG films of `dir`, sorted; throws when there are none. */
export function largeFilms(dir: string): string[] {
  const films = readdirSync(dir).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => join(dir, f));
  if (films.length === 0) throw new Error(`No full-size films in ${dir} (../shared/data/large, or set LARGE_DIR)`);
  return films;
}

/** `files` re-encoded as grayscale q90 into a new temp folder, in the same order. */
export function grayscaleQ90(files: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'films-q90-'));
  return Promise.all(files.map(async (file, i) => {
    const out = join(dir, `q90-${i}.jpg`);
    await sharp(file).toColourspace('b-w').jpeg({ quality: 90 }).toFile(out);
    return out;
  }));
}
