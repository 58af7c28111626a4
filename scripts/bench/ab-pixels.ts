/**
 * `npx tsx scripts/bench/ab-pixels.ts OTHER_CHECKOUT [--every N] DIR...`: the JPEG decoder of this checkout against
 * another one's (e.g. `git worktree add /tmp/head HEAD`) at every DCT scale (1/1, 1/2, 1/4, 1/8), on every JPEG under
 * the DIRs (recursively; `--every N` takes every Nth file). Prints how many decodes were compared and exits non-zero
 * on the first one whose pixels differ. The check behind "bit-identical" for a decoder change: the golden test
 * (test/node/decoder-golden.test.ts) pins the fixtures; this runs the same comparison over real X-rays, e.g.
 * `../shared/data/cxr5 ../shared/data/cxr-more ../shared/data/large ../shared/data/not-cxr`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeScaledLuma } from '../../src/image/jpeg/decoder';

const args = process.argv.slice(2);
const everyAt = args.indexOf('--every');
const every = everyAt >= 0 ? Number(args.splice(everyAt, 2)[1]) : 1;
const [other, ...dirs] = args;
if (!other || dirs.length === 0) throw new Error('usage: ab-pixels.ts OTHER_CHECKOUT [--every N] DIR...');
const theirs = (await import(resolve(other, 'src/image/jpeg/decoder.ts'))) as { decodeScaledLuma: typeof decodeScaledLuma };

function jpegsUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? jpegsUnder(join(dir, e.name)) : /\.jpe?g$/i.test(e.name) ? [join(dir, e.name)] : []));
}

let compared = 0;
let refused = 0;
const files = dirs.flatMap(jpegsUnder).filter((_, i) => i % every === 0);
for (const file of files) {
  const bytes = new Uint8Array(readFileSync(file));
  for (const scale of [1, 2, 4, 8]) {
    // Minimum sizes that make the decoder pick this scale (chooseScale takes the largest that keeps both).
    const decode = (fn: typeof decodeScaledLuma) => {
      try {
        const probe = fn(bytes, 1, 1); // 1/8, to learn the size
        const [w, h] = [probe.width * 8, probe.height * 8];
        const out = fn(bytes, Math.ceil(w / scale), Math.ceil(h / scale));
        return { width: out.width, height: out.height, scale: out.scale, data: Buffer.from(out.data) };
      } catch (error) {
        return { error: (error as Error).message };
      }
    };
    const a = decode(decodeScaledLuma);
    const b = decode(theirs.decodeScaledLuma);
    if ('error' in a || 'error' in b) {
      if (!('error' in a && 'error' in b && a.error === b.error)) throw new Error(`${file} at 1/${scale}: ${JSON.stringify('error' in a ? a : 'decoded')} vs ${JSON.stringify('error' in b ? b : 'decoded')}`);
      refused++;
      continue;
    }
    if (a.width !== b.width || a.height !== b.height || a.scale !== b.scale || !a.data.equals(b.data)) {
      throw new Error(`${file} at 1/${scale}: the two checkouts give different pixels`);
    }
    compared++;
  }
}
console.log(`${files.length} files, ${compared} decodes bit-identical (${refused} refused alike by both)`);
