/**
 * Compares candidate models for shipping: validation figures from each model's own metadata (the split
 * the choice may use), the Worker's inference backend timed warm, and what each adds to the bundle.
 *
 * Inference runs on onnxruntime-web's single-threaded WASM SIMD build, the same .wasm and session options
 * as src/inference/ort-backend.ts, in Node's V8 (workerd's clock does not advance during synchronous WASM,
 * so it cannot time itself); the input is a real preprocessed X-ray when ../shared is there.
 *
 * Usage: npx tsx scripts/bench/candidates.ts MODEL.onnx [...]   (prints a Markdown table)
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

const inputs = (realXrays(4) ?? []).map((x) => preprocessJpeg(x.bytes, 256, { maxPixels: 1e8 }).pixels);
const rows = [
  '| model | architecture | val accuracy | val macro-F1 | val sensitivity, lowest (class) | test accuracy | inference median / p95 (ms) | ONNX MB raw / gzip |',
  '| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |',
];
for (const path of process.argv.slice(2)) {
  const bytes = new Uint8Array(readFileSync(path));
  const info = await readModelInfo(bytes);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
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

  const metrics = (info.metrics ?? {}) as Record<string, any>;
  const training = (info.training ?? {}) as Record<string, any>;
  const val = metrics.validation ?? {};
  const sens = Object.entries(val.per_class ?? {}).map(([name, c]) => [name, (c as { sensitivity: number }).sensitivity] as const);
  const lowest = sens.sort((a, b) => a[1] - b[1])[0];
  rows.push(
    `| ${path} | ${training.architecture ?? '?'} | ${val.accuracy?.toFixed(4)} | ${val.macro_f1?.toFixed(4)} | ${lowest ? `${lowest[1].toFixed(3)} (${lowest[0]})` : '?'} | ` +
      `${metrics.accuracy?.toFixed(4)} | ${quantile(samples, 0.5).toFixed(1)} / ${quantile(samples, 0.95).toFixed(1)} | ` +
      `${(bytes.length / 1e6).toFixed(1)} / ${(gzipSync(bytes, { level: 9 }).length / 1e6).toFixed(1)} |`,
  );
  console.error(rows[rows.length - 1]);
}
console.log(rows.join('\n'));
