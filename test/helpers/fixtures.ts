/**
 * Builds every JPEG fixture the tests use, in Node, before the tests run: the variants Pillow writes
 * (test/fixtures/make_fixtures.py, run in the export pipeline's venv), jpeg-js-encoded ones, and
 * deliberately broken ones derived from them. Nothing here is committed; all of it is generated.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePythonEnv } from '../../scripts/export/python-env';
import { encodeJpeg, syntheticXray } from './synthetic';
import { seededRandom } from '../../scripts/export/split';

export const FIXTURE_DIR = new URL('../.fixtures/', import.meta.url).pathname;

/** Offset of the first marker `code` (e.g. 0xc0 for SOF0) in a JPEG. */
export function markerOffset(bytes: Uint8Array, code: number): number {
  for (let i = 2; i < bytes.length - 1; i++) if (bytes[i] === 0xff && bytes[i + 1] === code) return i;
  throw new Error(`marker ${code.toString(16)} not found`);
}

/** Returns fixture name -> bytes. */
export function buildFixtures(): Record<string, Uint8Array> {
  const pillowDir = join(FIXTURE_DIR, 'pillow');
  const script = new URL('../fixtures/make_fixtures.py', import.meta.url).pathname;
  const stamp = join(pillowDir, '.script.sha256');
  const scriptHash = createHash('sha256').update(readFileSync(script)).digest('hex');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== scriptHash) {
    rmSync(pillowDir, { recursive: true, force: true });
    mkdirSync(pillowDir, { recursive: true });
    const python = ensurePythonEnv((line) => console.log(line));
    const run = spawnSync(python, [script, pillowDir], { stdio: 'inherit' });
    if (run.status !== 0) throw new Error('make_fixtures.py failed');
    writeFileSync(stamp, scriptHash);
  }
  const fixtures: Record<string, Uint8Array> = {};
  for (const file of readdirSync(pillowDir).filter((f) => f.endsWith('.jpg'))) fixtures[file.replace(/\.jpg$/, '')] = new Uint8Array(readFileSync(join(pillowDir, file)));

  fixtures['rgb-jpegjs'] = encodeJpeg(320, 256, syntheticXray(256, 1, 5, seededRandom(3)));

  const good = fixtures['gray-baseline'];
  const sof = markerOffset(good, 0xc0);
  const patched = (edit: (copy: Uint8Array) => void) => {
    const copy = good.slice();
    edit(copy);
    return copy;
  };
  fixtures['truncated'] = good.slice(0, Math.floor(good.length * 0.6));
  fixtures['header-only'] = good.slice(0, markerOffset(good, 0xda));
  fixtures['not-a-jpeg'] = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(200).fill(7)]);
  fixtures['corrupt-markers'] = patched((c) => c.fill(0x42, markerOffset(c, 0xdb), markerOffset(c, 0xdb) + 2)); // a marker overwritten
  fixtures['arithmetic'] = patched((c) => (c[sof + 1] = 0xc9));
  fixtures['lossless'] = patched((c) => (c[sof + 1] = 0xc3));
  fixtures['twelve-bit'] = patched((c) => (c[sof + 4] = 12));
  fixtures['sixteen-bit'] = patched((c) => (c[sof + 4] = 16));
  // A decompression bomb: 60000 x 60000 declared in the header, a few kilobytes of data.
  fixtures['bomb'] = patched((c) => {
    c[sof + 5] = 60000 >> 8;
    c[sof + 6] = 60000 & 0xff;
    c[sof + 7] = 60000 >> 8;
    c[sof + 8] = 60000 & 0xff;
  });
  // A progressive header declaring 2000 x 13000 (26 MP, under the pixel limit): its short side allows no more
  // than 1/4 scale, where every coefficient is kept - 50 MiB, over the decode memory budget.
  fixtures['progressive-narrow-26mp'] = (() => {
    const copy = fixtures['gray-progressive'].slice();
    const sof2 = markerOffset(copy, 0xc2);
    copy.set([13000 >> 8, 13000 & 0xff, 2000 >> 8, 2000 & 0xff], sof2 + 5);
    return copy;
  })();
  return fixtures;
}

/** Up to `perClass` real X-rays per class folder of the cxr5 data (read in place, never copied). */
export function realXrays(perClass: number): { file: string; bytes: Uint8Array }[] | null {
  const root = process.env.CXR5_DIR ?? new URL('../../../shared/data/cxr5/', import.meta.url).pathname;
  if (!existsSync(root)) return null;
  const out: { file: string; bytes: Uint8Array }[] = [];
  for (const cls of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    const files = readdirSync(join(root, cls)).filter((f) => f.endsWith('.jpg')).sort();
    // Spread the picks over the folder rather than taking its first files.
    const step = Math.max(1, Math.floor(files.length / perClass));
    for (let i = 0; i < files.length && out.filter((x) => x.file.startsWith(cls)).length < perClass; i += step) {
      out.push({ file: `${cls}/${files[i]}`, bytes: new Uint8Array(readFileSync(join(root, cls, files[i]))) });
    }
  }
  return out;
}
