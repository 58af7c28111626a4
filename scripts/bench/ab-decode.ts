/**
 * `npx tsx scripts/bench/ab-decode.ts [--workerd] OTHER_CHECKOUT [DIR...]`: the Worker's preprocessing
 * (src/preprocess) of this checkout against another one's (e.g. `git worktree add /tmp/head HEAD`), interleaved film
 * by film so machine noise hits both alike, on the films in DIR (default: ../shared/data/large, and the same
 * re-encoded as grayscale q90 in a temp folder). Prints the median per film of each and their ratio, and checks the
 * two give the same pixels. For decoder changes that must stay bit-identical (and be faster).
 *
 * In Node by default. With `--workerd` each checkout's preprocessing is bundled (esbuild) into a Worker of its own
 * in workerd (Miniflare) and timed from outside, per request of AB_REPEAT (default 4) decodes of the film it
 * carries: the engine the service runs, whose JIT does not always agree with Node's (the entropy loop of
 * 2026-12-02 saved 11-18 % in Node and 20-24 % in workerd), and whose clock stands still during synchronous work.
 * AB_ROUNDS (default 7; 3 is enough to see a 5 % change) rounds over each set.
 */
import { buildSync } from 'esbuild';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Miniflare } from 'miniflare';
import { grayscaleQ90, largeFilms } from './films';
import { preprocessImage } from '../../src/preprocess';

const args = process.argv.slice(2);
const inWorkerd = args[0] === '--workerd';
const [other, ...dirs] = inWorkerd ? args.slice(1) : args;
if (!other) throw new Error('usage: ab-decode.ts [--workerd] OTHER_CHECKOUT [DIR...]');
const ROOT = new URL('../../', import.meta.url).pathname;
const LIMITS = { maxPixels: 50_000_000, maxDecodeBytes: 40 * 2 ** 20 };
const ROUNDS = Number(process.env.AB_ROUNDS ?? 7);
const REPEAT = Number(process.env.AB_REPEAT ?? 4);
const LARGE = join(ROOT, '../shared/data/large');

/** Times one decode of `bytes` (ms) and returns what identifies its pixels. */
type Decoder = (bytes: Uint8Array) => Promise<[ms: number, pixels: Buffer]>;

/** A checkout's preprocessing in this Node process. */
async function inNode(checkout: string): Promise<Decoder> {
  const { preprocessImage: preprocess } = (await import(resolve(checkout, 'src/preprocess/index.ts'))) as { preprocessImage: typeof preprocessImage };
  return async (bytes) => {
    const start = performance.now();
    const { pixels } = preprocess(bytes, 256, LIMITS);
    return [performance.now() - start, Buffer.from(pixels)];
  };
}

/** A checkout's preprocessing bundled into a Worker in workerd; each request decodes its body REPEAT times. */
async function inWorkerdIsolate(checkout: string, stops: (() => Promise<void>)[]): Promise<Decoder> {
  const dir = mkdtempSync(join(tmpdir(), 'ab-decode-'));
  const entry = join(dir, 'entry.ts');
  writeFileSync(entry, `import { preprocessImage } from ${JSON.stringify(resolve(checkout, 'src/preprocess/index.ts'))};
export default {
  async fetch(request: Request): Promise<Response> {
    const bytes = new Uint8Array(await request.arrayBuffer());
    let pixels = new Uint8Array(0);
    for (let i = 0; i < ${REPEAT}; i++) pixels = preprocessImage(bytes, 256, ${JSON.stringify(LIMITS)}).pixels;
    return new Response(pixels);
  },
};`);
  const script = join(dir, 'worker.js');
  // node:* stays external: workerd provides it (nodejs_compat), as for the service.
  buildSync({ entryPoints: [entry], bundle: true, format: 'esm', platform: 'neutral', mainFields: ['module', 'main'], external: ['node:*'], outfile: script, logLevel: 'error' });
  const mf = new Miniflare({ modules: true, script: readFileSync(script, 'utf8'), compatibilityDate: '2026-04-01', compatibilityFlags: ['nodejs_compat'], host: '127.0.0.1', port: 0 });
  const url = await mf.ready;
  stops.push(() => mf.dispose());
  return async (bytes) => {
    const start = performance.now();
    const response = await fetch(url, { method: 'POST', body: bytes as Uint8Array<ArrayBuffer> });
    const pixels = Buffer.from(await response.arrayBuffer());
    if (!response.ok) throw new Error(`${checkout}: ${pixels.toString()}`);
    return [(performance.now() - start) / REPEAT, pixels];
  };
}

async function sets(): Promise<[string, string[]][]> {
  if (dirs.length) return dirs.map((d) => [d, readdirSync(d).filter((f) => /\.jpe?g$/i.test(f)).sort().map((f) => join(d, f))]);
  const films = largeFilms(LARGE);
  return [['films as stored', films], ['films as grayscale q90', await grayscaleQ90(films)]];
}

const stops: (() => Promise<void>)[] = [];
const ours = inWorkerd ? await inWorkerdIsolate(ROOT, stops) : await inNode(ROOT);
const theirs = inWorkerd ? await inWorkerdIsolate(other, stops) : await inNode(other);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  for (const [name, files] of await sets()) {
    const images = files.map((f) => new Uint8Array(readFileSync(f)));
    const ourTimes: number[] = [];
    const otherTimes: number[] = [];
    for (const bytes of images) {
      if (!(await ours(bytes))[1].equals((await theirs(bytes))[1])) throw new Error(`${name}: the two checkouts give different pixels`);
    }
    for (let round = 0; round < ROUNDS; round++) {
      for (const bytes of images) {
        ourTimes.push((await ours(bytes))[0]);
        otherTimes.push((await theirs(bytes))[0]);
      }
    }
    const where = inWorkerd ? 'in workerd' : 'in Node';
    console.log(`${name} (${files.length}), ${where}: this checkout ${median(ourTimes).toFixed(1)} ms, the other ${median(otherTimes).toFixed(1)} ms a film (median of ${ourTimes.length}); ratio ${(median(ourTimes) / median(otherTimes)).toFixed(3)}; same pixels`);
  }
} finally {
  for (const stop of stops) await stop();
}
