/**
 * DICOM decode + preprocessing against a native reference, and memory per file. Writes the `dicom` section
 * of BENCHMARKS.md.
 *
 * Images: real full-size films of ../shared/data/large (LARGE_DIR), turned into what a hospital sends: 12-bit
 * stored in 16 (each grey level spread over 16 values) with a window, uncompressed (explicit VR little
 * endian), JPEG lossless SV1 (dcmcjpeg) and RLE (dcmcrle); plus one at 3000x3000 (18 MB uncompressed), the
 * size the issue names. Made in a temp folder at bench time, never committed.
 * - ours: preprocessImage (src/preprocess: parse, decode, grayscale pipeline, resize to 256x256) in this Node
 *   process: the same TypeScript the Worker runs (workerd's V8 runs it alike; the HTTP path adds what the
 *   JPEG rows of `npm run bench` show).
 * - native: dcmtk's dcmj2pnm (C++) with the file's window to an 8-bit 256x256 PGM, wall time of the process
 *   minus the same command on a 16x16 file (process start and dictionary load).
 * - memory: scripts/bench/memory.ts on the same files.
 *
 * Usage: npx tsx scripts/bench/dicom.ts
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { preprocessImage } from '../../src/preprocess';
import { largeFilms, tinyDicom, twelveBitDicom } from './films';
import { convert } from '../../test/helpers/dicom';
import { writeSection } from '../lib/report-sections';

const ROOT = new URL('../../', import.meta.url).pathname;
const LARGE = process.env.LARGE_DIR ?? join(ROOT, '../shared/data/large');
const FILMS = 4;
const RUNS = 10;
const dir = mkdtempSync(join(tmpdir(), 'bench-dicom-'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const films = largeFilms(LARGE).slice(0, FILMS);
const natives = await Promise.all(films.map((f) => twelveBitDicom(f)));
const square = await twelveBitDicom(films[0], 3000);
const sets: { name: string; files: string[] }[] = [];
const save = (tag: string, bytes: Uint8Array[]) =>
  bytes.map((b, i) => {
    const file = join(dir, `${tag}-${i}.dcm`);
    writeFileSync(file, b);
    return file;
  });
sets.push({ name: `${FILMS} real films, 12-bit, uncompressed`, files: save('native', natives) });
sets.push({ name: 'the same, JPEG lossless SV1', files: save('sv1', natives.map((b) => convert('dcmcjpeg', ['+e1'], b))) });
sets.push({ name: 'the same, RLE lossless', files: save('rle', natives.map((b) => convert('dcmcrle', [], b))) });
sets.push({ name: 'one film at 3000x3000, 12-bit, uncompressed', files: save('square', [square]) });
sets.push({ name: 'one film at 3000x3000, JPEG lossless SV1', files: save('square-sv1', [convert('dcmcjpeg', ['+e1'], square)]) });
// The largest the defaults admit: uncompressed, a body of MAX_UPLOAD_BYTES (20 MiB: 3238 x 3238 x 2 bytes); compressed,
// samples filling MAX_DECODE_MEMORY_BYTES (40 MiB: 4579 x 4579 x 2 bytes).
sets.push({ name: 'largest uncompressed the defaults admit (20 MiB body)', files: save('max-native', [await twelveBitDicom(films[0], 3238)]) });
sets.push({ name: 'largest compressed the defaults admit (40 MiB of samples), JPEG lossless', files: save('max-sv1', [convert('dcmcjpeg', ['+e1'], await twelveBitDicom(films[0], 4579))]) });

function ours(file: string): number {
  const bytes = new Uint8Array(readFileSync(file));
  for (let i = 0; i < 2; i++) preprocessImage(bytes, 256, { maxPixels: 50_000_000, maxDecodeBytes: 48 * 2 ** 20 });
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    preprocessImage(bytes, 256, { maxPixels: 50_000_000, maxDecodeBytes: 48 * 2 ** 20 });
    times.push(performance.now() - t);
  }
  return median(times);
}
const tiny = join(dir, 'tiny.dcm');
writeFileSync(tiny, tinyDicom());
function dcmj2pnm(file: string): number {
  const args = ['+Wi', '1', '+Sxv', '256', '+Syv', '256', file, join(dir, 'out.pgm')];
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    const run = spawnSync('dcmj2pnm', args);
    if (run.status !== 0) throw new Error(`dcmj2pnm failed on ${basename(file)}: ${run.stderr}`);
    times.push(performance.now() - t);
  }
  return median(times);
}
const startup = dcmj2pnm(tiny);

const rows = sets.map((set) => {
  const o = median(set.files.map(ours));
  const n = median(set.files.map(dcmj2pnm)) - startup;
  const sizes = set.files.map((f) => sourceSize(f));
  const mb = median(set.files.map((f) => statSync(f).size)) / 1e6;
  console.log(`${set.name}: ours ${o.toFixed(1)} ms, dcmj2pnm ${n.toFixed(1)} ms`);
  return `| ${set.name} | ${sizes[0]} | ${mb.toFixed(1)} | ${o.toFixed(1)} | ${n.toFixed(1)} | ${(o / n).toFixed(1)}× |`;
});
function sourceSize(file: string): string {
  const image = preprocessImage(new Uint8Array(readFileSync(file)), 256, { maxPixels: 50_000_000 });
  return `${image.source.width}×${image.source.height}`;
}

const memory = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/bench/memory.ts'), ...sets.map((s) => s.files[0])], { encoding: 'utf8' });
if (memory.status !== 0) throw new Error(memory.stderr);

writeSection(
  'dicom',
  `## DICOM

Generated by \`npx tsx scripts/bench/dicom.ts\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}).
Real films of ../shared/data/large as a hospital sends them: 12 bits stored in 16 with a window, uncompressed and in
the lossless transfer syntaxes dcmtk writes (made at bench time, never committed). **Ours**: \`preprocessImage\`
(parse, decode the first frame, grayscale pipeline, resize to 256×256) in Node, the TypeScript the Worker runs;
median of ${RUNS} warm runs per file, median over files. **Native**: dcmtk's \`dcmj2pnm\` (C++) with the file's window
to a 256×256 8-bit PGM, process wall time minus the same command on a 16×16 file (${startup.toFixed(1)} ms of start-up).

| files | size (first) | MB (median) | ours: decode + preprocess (ms) | dcmj2pnm (ms) | ours ÷ native |
| --- | --- | ---: | ---: | ---: | ---: |
${rows.join('\n')}

Memory (scripts/bench/memory.ts, the first file of each row; "two in flight" adds the model, both bodies and tensors):

${memory.stdout.trim()}
`,
);
console.log('wrote the dicom section of BENCHMARKS.md');
