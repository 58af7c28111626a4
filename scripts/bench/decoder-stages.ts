/**
 * `npx tsx scripts/bench/decoder-stages.ts` (also run by `npm run bench`): where the JPEG path's time goes on real
 * films, so the next speed-up aims at the right loop. The Worker's own preprocessing (src/preprocess: decode to a
 * reduced size, resize, stretch) runs in this Node process over the 16 films of ../shared/data/large as stored and
 * re-encoded as grayscale q90 (sharp, temp folder, never committed), under V8's sampling CPU profiler; each sample's
 * function is assigned to a stage by its file and name:
 * - entropy decoding: the bit reader and Huffman decoding, the block loops that place coefficients (huffman.ts,
 *   decoder.ts's scan and block functions);
 * - IDCT: the reduced-size inverse DCTs (idct.ts, and decoder.ts's progressive transform);
 * - colour: combining component planes into luminance (decoder.ts `combine`);
 * - resize and stretch: src/preprocess;
 * - other: header parsing, allocation, garbage collection, the profiler itself.
 * Self time, so a stage's share is the time spent in its own code. Writes the `decoder-stages` section of
 * BENCHMARKS.md. `LARGE_DIR` points elsewhere; `STAGE_ROUNDS` (default 10) decodes of each film per set.
 */
import { readFileSync } from 'node:fs';
import { Session, type Profiler } from 'node:inspector/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { grayscaleQ90, largeFilms } from './films';
import { preprocessImage } from '../../src/preprocess';
import { writeSection } from '../lib/report-sections';

const ROOT = new URL('../../', import.meta.url).pathname;
const LARGE = process.env.LARGE_DIR ?? join(ROOT, '../shared/data/large');
const ROUNDS = Number(process.env.STAGE_ROUNDS ?? 10);
// wrangler.toml's defaults.
const LIMITS = { maxPixels: 50_000_000, maxDecodeBytes: 40 * 2 ** 20 };
const STAGES = ['entropy decoding', 'IDCT', 'colour', 'resize and stretch', 'other'] as const;
type Stage = (typeof STAGES)[number];

/** The stage a profiled function belongs to (see the header). */
function stageOf(url: string, name: string): Stage {
  if (url.includes('/src/image/jpeg/huffman.ts')) return 'entropy decoding';
  if (url.includes('/src/image/jpeg/idct.ts')) return 'IDCT';
  if (url.includes('/src/image/jpeg/decoder.ts')) {
    if (name === 'transformBlock' || name === 'transformAll') return 'IDCT';
    if (name === 'combine' || name === 'sample') return 'colour';
    if (/^(decodeScan|decodeBlock|decodeBaselineBlock|decodeAcFirst|decodeAcRefine|skipEntropyData|checkDataEnd)$/.test(name)) return 'entropy decoding';
    return 'other';
  }
  if (url.includes('/src/preprocess/')) return 'resize and stretch';
  return 'other';
}

/** Self time per stage, in milliseconds, from a V8 CPU profile. */
function stageTimes(profile: Profiler.Profile): Record<Stage, number> {
  const byNode = new Map(profile.nodes.map((n) => [n.id, stageOf(n.callFrame.url, n.callFrame.functionName)]));
  const times = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < (profile.samples ?? []).length; i++) times[byNode.get(profile.samples![i]) ?? 'other'] += (deltas[i] ?? 0) / 1000;
  return times;
}

async function main(): Promise<void> {
  const films = largeFilms(LARGE);
  const q90 = await grayscaleQ90(films);
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  const rows: string[] = [];
  for (const [name, files] of [[`real films as stored (${films.length})`, films], [`the same films as grayscale q90 (${films.length})`, q90]] as const) {
    const images = files.map((f) => new Uint8Array(readFileSync(f)));
    for (const bytes of images) preprocessImage(bytes, 256, LIMITS); // warm-up: compiled code, as a warm isolate has
    const perFilm: number[] = [];
    await session.post('Profiler.start');
    for (let round = 0; round < ROUNDS; round++) {
      for (const bytes of images) {
        const start = performance.now();
        preprocessImage(bytes, 256, LIMITS);
        perFilm.push(performance.now() - start);
      }
    }
    const { profile } = await session.post('Profiler.stop');
    const times = stageTimes(profile);
    const total = STAGES.reduce((n, s) => n + times[s], 0);
    perFilm.sort((a, b) => a - b);
    const median = perFilm[Math.floor(perFilm.length / 2)];
    const cells = STAGES.map((s) => `${((100 * times[s]) / total).toFixed(0)} % (${(times[s] / perFilm.length).toFixed(1)})`);
    rows.push(`| ${name} | ${median.toFixed(1)} | ${cells.join(' | ')} |`);
    console.log(rows.at(-1));
  }
  session.disconnect();
  writeSection(
    'decoder-stages',
    `## Inside the decoder, per stage

\`npx tsx scripts/bench/decoder-stages.ts\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}): the Worker's
preprocessing (decode to a reduced size, resize, stretch) in Node, ${ROUNDS} rounds over each set, under V8's sampling
profiler (100 µs); each stage's self time as a share of the profile, and in brackets milliseconds per film. Node's V8 is
workerd's engine, so the shares carry over; the absolute times in workerd are in the table above.

| images | median ms per film | ${STAGES.join(' | ')} |
| --- | ---: | ${STAGES.map(() => '---:').join(' | ')} |
${rows.join('\n')}`,
  );
  console.log('Wrote the decoder-stages section of BENCHMARKS.md');
}

await main();
