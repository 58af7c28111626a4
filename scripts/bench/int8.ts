/**
 * Does the int8 model buy time at an accuracy cost worth paying? Quantises MODEL (static QDQ, calibrated on
 * the first 200 validation images, as `npm run export -- --quantize` does), evaluates both on the test split
 * (same split as the export: grouped, seeded), and times both on the Worker's backend (onnxruntime-web, WASM
 * SIMD, one thread) in Node.
 *
 * Usage: npx tsx scripts/bench/int8.ts --data DIR --manifest FILE [--model model.onnx] [--seed 42] [--work .cache/export]
 *
 * MODEL must be a graph as exported: onnxruntime's quantiser cannot read the fused operators of a graph whose
 * rewrites were saved at export (every model since 2026-12-01, the shipped one included), and quantize_model.py
 * refuses one. For those, `npm run export -- ... --quantize` quantises the graph before it is optimised.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import { buildPixelCache } from '../export/cache';
import { loadDataset } from '../export/dataset';
import { EXPORT_DIR, ensurePythonEnv } from '../export/python-env';
import { groupSplit } from '../export/split';
import { PREPROCESSING_ID } from '../../src/preprocess';
import { writeSection } from '../lib/report-sections';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    manifest: { type: 'string' },
    model: { type: 'string', default: 'model.onnx' },
    seed: { type: 'string', default: '42' },
    work: { type: 'string', default: '.cache/export' },
  },
});
if (!values.data) throw new Error('--data DIR is required (e.g. ../shared/data/cxr5)');
const log = (line: string) => console.error(line);
const data = loadDataset(resolve(values.data), values.manifest && resolve(values.manifest), 'unit');
const cache = buildPixelCache(data, 256, resolve(values.work!), log);
const labels = cache.kept.map((i) => data.labels[i]);
const split = groupSplit(labels, cache.kept.map((i) => data.groups[i]), { train: 0.8, val: 0.1, test: 0.1 }, Number(values.seed));
const dir = mkdtempSync(join(tmpdir(), 'int8-'));
const jobPath = join(dir, 'job.json');
writeFileSync(jobPath, JSON.stringify({ pixels: cache.pixels, input_size: 256, preprocessing: PREPROCESSING_ID, classes: data.classes, labels, split }));
const python = ensurePythonEnv(log);
const run = spawnSync(python, [join(EXPORT_DIR, 'python', 'quantize_model.py'), jobPath, resolve(values.model!), join(dir, 'model.int8.onnx')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
if (run.status !== 0) throw new Error('quantize_model.py failed');
const result = JSON.parse(run.stdout.trim().split('\n').pop()!) as { fp32: { accuracy: number; macro_f1: number }; int8: { accuracy: number; macro_f1: number }; int8_path: string };

ort.env.wasm.numThreads = 1;
ort.env.logLevel = 'error';
const pixels = readFileSync(cache.pixels);
async function time(path: string): Promise<number> {
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(path)), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const samples: number[] = [];
  for (let i = 0; i < 45; i++) {
    const row = split.test[i % split.test.length];
    const input = new ort.Tensor('float32', Float32Array.from(pixels.subarray(row * 65536, (row + 1) * 65536)), [1, 1, 256, 256]);
    const start = performance.now();
    await session.run({ image: input }, ['probabilities']);
    if (i >= 5) samples.push(performance.now() - start);
  }
  await session.release();
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)];
}
const rows = [
  '| model | test accuracy | test macro-F1 | inference median (ms, ORT-web WASM, 1 thread) | size (MB) |',
  '| --- | ---: | ---: | ---: | ---: |',
  `| fp32 (${values.model}) | ${result.fp32.accuracy.toFixed(4)} | ${result.fp32.macro_f1.toFixed(4)} | ${(await time(resolve(values.model!))).toFixed(1)} | ${(statSync(resolve(values.model!)).size / 1e6).toFixed(1)} |`,
  `| int8 QDQ, per-channel | ${result.int8.accuracy.toFixed(4)} | ${result.int8.macro_f1.toFixed(4)} | ${(await time(result.int8_path)).toFixed(1)} | ${(statSync(result.int8_path).size / 1e6).toFixed(1)} |`,
];
const section = `## int8 (\`npx tsx scripts/bench/int8.ts --data ../shared/data/cxr5 --manifest ../shared/data/cxr5/MANIFEST.csv\`)

${new Date().toISOString().slice(0, 10)}: ${values.model} quantised to int8 (static QDQ, per-channel weights, calibrated on the first 200
validation images, as \`npm run export -- --quantize\` does), both evaluated on the same unit-disjoint test split and
timed on the Worker's backend (onnxruntime-web, WASM SIMD, one thread) in Node, 40 runs after 5 warm-ups.

${rows.join('\n')}`;
writeSection('int8', section);
console.log(section);
