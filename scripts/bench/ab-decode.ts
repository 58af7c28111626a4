/**
 * `npx tsx scripts/bench/ab-decode.ts OTHER_CHECKOUT [DIR...]`: the Worker's preprocessing (src/preprocess) of this
 * checkout against another one's (e.g. `git worktree add /tmp/head HEAD`), interleaved film by film so machine noise
 * hits both alike, on the films in DIR (default: ../shared/data/large, and the same re-encoded as grayscale q90 in a
 * temp folder). Prints the median per film of each and their ratio, and checks the two give the same pixels.
 * For decoder changes that must stay bit-identical (and be faster).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { grayscaleQ90, largeFilms } from './films';
import { preprocessImage } from '../../src/preprocess';

const [other, ...dirs] = process.argv.slice(2);
if (!other) throw new Error('usage: ab-decode.ts OTHER_CHECKOUT [DIR...]');
const theirs = (await import(resolve(other, 'src/preprocess/index.ts'))) as { preprocessImage: typeof preprocessImage };
const LIMITS = { maxPixels: 50_000_000, maxDecodeBytes: 40 * 2 ** 20 };
const ROUNDS = Number(process.env.AB_ROUNDS ?? 7);
const LARGE = new URL('../../../shared/data/large', import.meta.url).pathname;

async function sets(): Promise<[string, string[]][]> {
  if (dirs.length) return dirs.map((d) => [d, readdirSync(d).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => join(d, f))]);
  const films = largeFilms(LARGE);
  return [['films as stored', films], ['films as grayscale q90', await grayscaleQ90(films)]];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [name, files] of await sets()) {
  const images = files.map((f) => new Uint8Array(readFileSync(f)));
  const ours: number[] = [];
  const other: number[] = [];
  for (const bytes of images) {
    const a = preprocessImage(bytes, 256, LIMITS).pixels;
    const b = theirs.preprocessImage(bytes, 256, LIMITS).pixels;
    if (!Buffer.from(a).equals(Buffer.from(b))) throw new Error(`${name}: the two checkouts give different pixels`);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const bytes of images) {
      let start = performance.now();
      preprocessImage(bytes, 256, LIMITS);
      ours.push(performance.now() - start);
      start = performance.now();
      theirs.preprocessImage(bytes, 256, LIMITS);
      other.push(performance.now() - start);
    }
  }
  console.log(`${name} (${files.length}): this checkout ${median(ours).toFixed(1)} ms, the other ${median(other).toFixed(1)} ms a film (median of ${ours.length}); ratio ${(median(ours) / median(other)).toFixed(3)}; same pixels`);
}
