/**
 * `npx tsx scripts/bench/request-profile.ts` (also run by `npm run bench`): where a classification's time goes inside
 * the Worker, end to end, on real films. The deployable bundle runs in workerd (scripts/lib/production-worker.ts,
 * AUTH on, as deployed) with its isolate's DevTools inspector open; V8's sampling CPU profiler records the isolate
 * while PROFILE_ROUNDS (default 3) rounds of /v1/classify go over the 16 films of ../shared/data/large as stored and
 * re-encoded as grayscale q90, one request at a time. Each sample is assigned to a stage by the source file of its
 * function (the bundle's source map) or its kind:
 * - decode and preprocess: src/image, src/preprocess;
 * - inference, WASM: onnxruntime-web's compiled kernels (wasm-function);
 * - inference, JS: onnxruntime-web's JavaScript, src/inference (tensors, outputs, assessment);
 * - request handling: src/ outside those (routes, upload, auth, metering, answers), Hono, zod, and workerd's own
 *   built-ins (reading the body, KV, the usage meter);
 * - garbage collection; idle (the isolate waiting: I/O, timers); other (V8's own work, anything unattributed).
 * Writes the `request-profile` section of BENCHMARKS.md. The profiler slows the isolate a little, so the per-request
 * total here is above the benchmark table's; the shares are what this is for. With PROFILE_TOP=N it also prints (not
 * to the report) the N functions with the most self time per set, by their source file and line: where to aim next.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { grayscaleQ90, largeFilms } from './films';
import { inspectUserWorker } from '../lib/inspector';
import { createLocalKey } from '../lib/local-browser';
import { buildBundle, postImageTimed, startBundle } from '../lib/production-worker';
import { writeSection } from '../lib/report-sections';

const ROOT = new URL('../../', import.meta.url).pathname;
const LARGE = process.env.LARGE_DIR ?? join(ROOT, '../shared/data/large');
const ROUNDS = Number(process.env.PROFILE_ROUNDS ?? 3);
const INSPECTOR_PORT = Number(process.env.INSPECTOR_PORT ?? 9329);
const TOP = Number(process.env.PROFILE_TOP ?? 0);
const STAGES = ['decode and preprocess', 'inference, WASM', 'inference, JS', 'request handling', 'garbage collection', 'idle', 'other'] as const;
type Stage = (typeof STAGES)[number];

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The source file and (0-based) line the bundle's map gives for a sampled function's position. */
function originalOf(frame: ProfileNode['callFrame'], map: SourceMap): { source: string; line: number } {
  const entry = map.findEntry(frame.lineNumber, frame.columnNumber) as { originalSource?: string; originalLine?: number };
  return { source: entry.originalSource ?? '', line: entry.originalLine ?? 0 };
}

/** A function's name with its source file and line (PROFILE_TOP's listing). */
function functionOf(frame: ProfileNode['callFrame'], map: SourceMap): string {
  if (!frame.url || frame.url.includes('wasm')) return frame.functionName || '(anonymous)';
  const { source, line } = originalOf(frame, map);
  return `${frame.functionName || '(anonymous)'} ${source.replace(/^.*?\/(src|node_modules)\//, '$1/')}:${line + 1}`;
}

/** The stage of a function, from the source file the bundle's map gives for its position, or its kind. */
function stageOf(frame: ProfileNode['callFrame'], map: SourceMap): Stage {
  const name = frame.functionName;
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(idle)') return 'idle';
  if (name === '(program)' || name === '(root)') return 'other';
  if (name.startsWith('wasm-function') || frame.url.includes('wasm')) return 'inference, WASM';
  if (!frame.url) return 'request handling'; // workerd's built-ins: body streams, KV, Durable Object calls
  const { source } = originalOf(frame, map);
  if (/\/src\/(image|preprocess)\//.test(source)) return 'decode and preprocess';
  if (/\/src\/inference\/|onnxruntime-/.test(source)) return 'inference, JS';
  if (/\/src\/|\/node_modules\/(hono|@hono|zod)\//.test(source)) return 'request handling';
  return 'other';
}

async function main(): Promise<void> {
  const films = largeFilms(LARGE);
  const sets = [[`real films as stored (${films.length})`, films], [`the same films as grayscale q90 (${films.length})`, await grayscaleQ90(films)]] as const;
  const bundle = buildBundle(mkdtempSync(join(tmpdir(), 'request-profile-')));
  const map = new SourceMap(JSON.parse(readFileSync(join(bundle.dir, 'index.js.map'), 'utf8')));
  const state = mkdtempSync(join(tmpdir(), 'request-profile-state-'));
  const { key } = createLocalKey(state, 'request profile');
  const worker = await startBundle(bundle, state, {}, INSPECTOR_PORT);
  const rows: string[] = [];
  try {
    const classify = async (bytes: Uint8Array): Promise<number> => (await postImageTimed(worker.url, key, bytes)).ms;
    const inspector = await inspectUserWorker(INSPECTOR_PORT);
    await inspector.post('Profiler.enable');
    await inspector.post('Profiler.setSamplingInterval', { interval: 200 });
    for (const [name, files] of sets) {
      const images = files.map((f) => new Uint8Array(readFileSync(f)));
      for (const bytes of images.slice(0, 3)) await classify(bytes); // warm-up
      const times: number[] = [];
      await inspector.post('Profiler.start');
      for (let round = 0; round < ROUNDS; round++) for (const bytes of images) times.push(await classify(bytes));
      const { profile } = (await inspector.post('Profiler.stop')) as { profile: Profile };
      const stageById = new Map(profile.nodes.map((n) => [n.id, stageOf(n.callFrame, map)]));
      const ms = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
      profile.samples.forEach((id, i) => (ms[stageById.get(id) ?? 'other'] += (profile.timeDeltas[i] ?? 0) / 1000));
      const profiled = STAGES.reduce((n, s) => n + ms[s], 0);
      times.sort((a, b) => a - b);
      const cells = STAGES.map((s) => `${((100 * ms[s]) / profiled).toFixed(0)} % (${(ms[s] / times.length).toFixed(1)})`);
      rows.push(`| ${name} | ${times[Math.floor(times.length / 2)].toFixed(1)} | ${(profiled / times.length).toFixed(1)} | ${cells.join(' | ')} |`);
      console.log(rows.at(-1));
      if (TOP > 0) {
        const self = new Map<string, number>();
        const nameById = new Map(profile.nodes.map((n) => [n.id, functionOf(n.callFrame, map)]));
        profile.samples.forEach((id, i) => {
          const name = nameById.get(id) ?? '?';
          self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
        });
        for (const [fn, total] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
          console.log(`  ${((100 * total) / profiled).toFixed(1).padStart(5)} % ${(total / times.length).toFixed(2).padStart(6)} ms  ${fn}`);
        }
      }
    }
    inspector.close();
  } finally {
    await worker.stop();
  }
  writeSection(
    'request-profile',
    `## Inside the Worker, per request

\`npx tsx scripts/bench/request-profile.ts\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}): /v1/classify on the
deployable bundle in workerd (AUTH on, as deployed), ${ROUNDS} rounds over each set one request at a time, under V8's
sampling profiler (200 µs) attached to the isolate; each stage's share of the isolate's profiled time, and in brackets
milliseconds per request. Stages by the source file of each sampled function (the bundle's source map): the header of
the script says which files each holds. Profiling slows the isolate, so its totals run above the table at the top.

| images | client median (ms) | profiled per request (ms) | ${STAGES.join(' | ')} |
| --- | ---: | ---: | ${STAGES.map(() => '---:').join(' | ')} |
${rows.join('\n')}`,
  );
  console.log('Wrote the request-profile section of BENCHMARKS.md');
}

await main();
