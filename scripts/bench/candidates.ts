/**
 * Compares candidate models for shipping: validation figures from each model's own metadata (the split
 * the choice may use), the Worker's inference backend timed warm, and what each adds to the bundle.
 *
 * Inference runs on onnxruntime-web's single-threaded WASM SIMD build, the same .wasm and session options
 * as src/inference/ort-backend.ts, in Node's V8 (workerd's clock does not advance during synchronous WASM,
 * so it cannot time itself); the input is a real preprocessed X-ray when ../shared is there.
 *
 * Usage: npx tsx scripts/bench/candidates.ts MODEL.onnx [...]   (prints a Markdown table)
 *        npx tsx scripts/bench/candidates.ts --opt-levels MODEL.onnx [...]   (inference time per ORT graph optimisation level)
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-web';
import { readModelInfo } from '../../src/inference/model-info';
import { Classifier } from '../../src/inference/classifier';
import { preprocessJpeg } from '../../src/preprocess';
import { realXrays } from '../../test/helpers/fixtures';

const RUNS = Number(process.env.BENCH_RUNS ?? 50);
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

ort.env.wasm.numThreads = 1;
ort.env.wasm.proxy = false;
ort.env.logLevel = 'error';

const optLevels = process.argv.includes('--opt-levels');
const models = process.argv.slice(2).filter((a) => a !== '--opt-levels');

/** Warm median and p95 of `RUNS` classifications, on onnxruntime-web's WASM backend. */
async function timeInference(bytes: Uint8Array, graphOptimizationLevel: 'disabled' | 'basic' | 'extended' | 'all') {
  const info = await readModelInfo(bytes);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel });
  const classifier = new Classifier(session, ort.Tensor, info);
  const input = (i: number) => inputs[i % Math.max(1, inputs.length)] ?? new Uint8Array(info.inputSize * info.inputSize).fill(128);
  for (let i = 0; i < 5; i++) await classifier.classify(input(i));
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await classifier.classify(input(i));
    samples.push(performance.now() - start);
  }
  samples.sort((a, b) => a - b);
  await session.release();
  return { info, median: quantile(samples, 0.5), p95: quantile(samples, 0.95) };
}

const inputs = (realXrays(4) ?? []).map((x) => preprocessJpeg(x.bytes, 256, { maxPixels: 1e8 }).pixels);
if (optLevels) {
  const levels = ['disabled', 'basic', 'extended', 'all'] as const;
  const rows = [`| model | ${levels.join(' | ')} |`, `| --- | ${levels.map(() => '---:').join(' | ')} |`];
  for (const path of models) {
    const bytes = new Uint8Array(readFileSync(path));
    const cells: string[] = [];
    for (const level of levels) {
      const t = await timeInference(bytes, level);
      cells.push(`${t.median.toFixed(1)} / ${t.p95.toFixed(1)}`);
    }
    rows.push(`| ${path} | ${cells.join(' | ')} |`);
    console.error(rows[rows.length - 1]);
  }
  console.log(rows.join('\n'));
  process.exit(0);
}

const rows = [
  '| model | architecture | val accuracy | val macro-F1 | val sensitivity, lowest (class) | test accuracy | inference median / p95 (ms) | ONNX MB raw / gzip |',
  '| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |',
];
for (const path of models) {
  const bytes = new Uint8Array(readFileSync(path));
  const { info, median, p95 } = await timeInference(bytes, 'all');
  const metrics = (info.metrics ?? {}) as Record<string, any>;
  const training = (info.training ?? {}) as Record<string, any>;
  const val = metrics.validation ?? {};
  const sens = Object.entries(val.per_class ?? {}).map(([name, c]) => [name, (c as { sensitivity: number }).sensitivity] as const);
  const lowest = sens.sort((a, b) => a[1] - b[1])[0];
  rows.push(
    `| ${path} | ${training.architecture ?? '?'} | ${val.accuracy?.toFixed(4)} | ${val.macro_f1?.toFixed(4)} | ${lowest ? `${lowest[1].toFixed(3)} (${lowest[0]})` : '?'} | ` +
      `${metrics.accuracy?.toFixed(4)} | ${median.toFixed(1)} / ${p95.toFixed(1)} | ` +
      `${(bytes.length / 1e6).toFixed(1)} / ${(gzipSync(bytes, { level: 9 }).length / 1e6).toFixed(1)} |`,
  );
  console.error(rows[rows.length - 1]);
}
console.log(rows.join('\n'));
