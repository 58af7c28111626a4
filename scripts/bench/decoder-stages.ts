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
 * The first four films also go through as 12-bit DICOM (scripts/bench/films.ts), uncompressed and in the two
 * lossless syntaxes dcmtk writes (needs dcmtk), with stages of their own:
 * - decompression: src/image/dicom/codecs (JPEG lossless, RLE) and the bit reader they share (huffman.ts);
 * - grayscale pipeline: the lookup table and its pass over the pixels (grayscale-pipeline.ts, decode.ts's
 *   renderGrayscale and lookUpWordsFourAtATime), and the frame's samples read out of the file (nativeFrame);
 * - resize: src/preprocess; other: parsing the data set, allocation, garbage collection, the profiler.
 * Self time, so a stage's share is the time spent in its own code. Writes the `decoder-stages` section of
 * BENCHMARKS.md. `LARGE_DIR` points elsewhere; `STAGE_ROUNDS` (default 10) decodes of each film per set.
 */
import { readFileSync } from 'node:fs';
import { Session, type Profiler } from 'node:inspector/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { grayscaleQ90, largeFilms, twelveBitDicom } from './films';
import { convert } from '../../test/helpers/dicom';
import { preprocessImage } from '../../src/preprocess';
import { writeSection } from '../lib/report-sections';

const ROOT = new URL('../../', import.meta.url).pathname;
const LARGE = process.env.LARGE_DIR ?? join(ROOT, '../shared/data/large');
const ROUNDS = Number(process.env.STAGE_ROUNDS ?? 10);
// wrangler.toml's defaults.
const LIMITS = { maxPixels: 50_000_000, maxDecodeBytes: 40 * 2 ** 20 };
const STAGES = ['entropy decoding', 'IDCT', 'colour', 'resize and stretch', 'other'] as const;
type Stage = (typeof STAGES)[number];
const DICOM_STAGES = ['decompression', 'grayscale pipeline', 'resize', 'other'] as const;
type DicomStage = (typeof DICOM_STAGES)[number];
const DICOM_FILMS = 4;

/** The stage a profiled function of a JPEG's preprocessing belongs to (see the header). */
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

/** The stage a profiled function of a DICOM's preprocessing belongs to (see the header). */
function dicomStageOf(url: string, name: string): DicomStage {
  if (url.includes('/src/image/dicom/codecs/') || url.includes('/src/image/jpeg/huffman.ts')) return 'decompression';
  if (url.includes('/src/image/dicom/grayscale-pipeline.ts')) return 'grayscale pipeline';
  if (url.includes('/src/image/dicom/decode.ts') && ['renderGrayscale', 'lookUpWordsFourAtATime', 'nativeFrame'].includes(name)) return 'grayscale pipeline';
  if (url.includes('/src/preprocess/')) return 'resize';
  return 'other';
}

/** Self time per stage, in milliseconds, from a V8 CPU profile. */
function stageTimes<S extends string>(profile: Profiler.Profile, stages: readonly S[], stageOf: (url: string, name: string) => S): Record<S, number> {
  const byNode = new Map(profile.nodes.map((n) => [n.id, stageOf(n.callFrame.url, n.callFrame.functionName)]));
  const times = Object.fromEntries(stages.map((s) => [s, 0])) as Record<S, number>;
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < (profile.samples ?? []).length; i++) times[byNode.get(profile.samples![i]) ?? stages[stages.length - 1]] += (deltas[i] ?? 0) / 1000;
  return times;
}

/**
 * One table row per set: the median milliseconds per file, and each stage's share of the profile (and milliseconds
 * per file), over ROUNDS rounds of the Worker's preprocessing of every file of the set.
 */
async function profileRows<S extends string>(
  session: Session, sets: (readonly [string, Uint8Array[]])[], stages: readonly S[], stageOf: (url: string, name: string) => S,
): Promise<string[]> {
  const rows: string[] = [];
  for (const [name, images] of sets) {
    for (const bytes of images) preprocessImage(bytes, 256, LIMITS); // warm-up: compiled code, as a warm isolate has
    const perFile: number[] = [];
    await session.post('Profiler.start');
    for (let round = 0; round < ROUNDS; round++) {
      for (const bytes of images) {
        const start = performance.now();
        preprocessImage(bytes, 256, LIMITS);
        perFile.push(performance.now() - start);
      }
    }
    const { profile } = await session.post('Profiler.stop');
    const times = stageTimes(profile, stages, stageOf);
    const total = stages.reduce((n, s) => n + times[s], 0);
    perFile.sort((a, b) => a - b);
    const median = perFile[Math.floor(perFile.length / 2)];
    const cells = stages.map((s) => `${((100 * times[s]) / total).toFixed(0)} % (${(times[s] / perFile.length).toFixed(1)})`);
    rows.push(`| ${name} | ${median.toFixed(1)} | ${cells.join(' | ')} |`);
    console.log(rows.at(-1));
  }
  return rows;
}

const header = (first: string, stages: readonly string[]) => `| ${first} | median ms per file | ${stages.join(' | ')} |
| --- | ---: | ${stages.map(() => '---:').join(' | ')} |`;

async function main(): Promise<void> {
  const films = largeFilms(LARGE);
  const read = (files: string[]) => files.map((f) => new Uint8Array(readFileSync(f)));
  const jpegSets = [[`real films as stored (${films.length})`, read(films)], [`the same films as grayscale q90 (${films.length})`, read(await grayscaleQ90(films))]] as const;
  const natives = await Promise.all(films.slice(0, DICOM_FILMS).map((f) => twelveBitDicom(f)));
  const dicomSets = [
    [`${natives.length} of the films as 12-bit DICOM, uncompressed`, natives],
    ['the same, JPEG lossless SV1', natives.map((b) => convert('dcmcjpeg', ['+e1'], b))],
    ['the same, RLE lossless', natives.map((b) => convert('dcmcrle', [], b))],
  ] as const;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  const jpegRows = await profileRows(session, [...jpegSets], STAGES, stageOf);
  const dicomRows = await profileRows(session, [...dicomSets], DICOM_STAGES, dicomStageOf);
  session.disconnect();
  writeSection(
    'decoder-stages',
    `## Inside the decoder, per stage

\`npx tsx scripts/bench/decoder-stages.ts\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.version}): the Worker's
preprocessing (decode to a reduced size, resize, stretch) in Node, ${ROUNDS} rounds over each set, under V8's sampling
profiler (100 µs); each stage's self time as a share of the profile, and in brackets milliseconds per file. Node's V8 is
workerd's engine, so the shares carry over; the absolute times in workerd are in the table above. DICOM files are
resized from their full resolution (no DCT scaling), 12 bits through the grayscale pipeline's lookup table.

${header('images', STAGES)}
${jpegRows.join('\n')}

${header('DICOM files', DICOM_STAGES)}
${dicomRows.join('\n')}`,
  );
  console.log('Wrote the decoder-stages section of BENCHMARKS.md');
}

await main();
