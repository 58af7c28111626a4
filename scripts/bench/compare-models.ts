/**
 * Inference time of two (or more) ONNX models on the Worker's backend (onnxruntime-web, WASM SIMD, one thread)
 * and natively (onnxruntime-node, one thread), interleaved run by run so machine noise hits all alike: e.g.
 * what the gate and the distance outputs add to a classification.
 *
 * Usage: npx tsx scripts/bench/compare-models.ts A.onnx B.onnx [...]   (e.g. `git show REV:model.onnx > /tmp/a.onnx`)
 */
import { readFileSync } from 'node:fs';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';

const RUNS = Number(process.env.BENCH_RUNS ?? 60);
const files = process.argv.slice(2);
if (files.length < 2) throw new Error('usage: compare-models.ts A.onnx B.onnx [...]');
ortWeb.env.wasm.numThreads = 1;

const pixels = new Float32Array(256 * 256).map((_, i) => (i * 7919) % 256);
const runners = await Promise.all(files.map(async (file) => {
  const bytes = new Uint8Array(readFileSync(file));
  const web = await ortWeb.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  const native = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  return {
    file,
    web: () => web.run({ image: new ortWeb.Tensor('float32', pixels, [1, 1, 256, 256]) }),
    native: () => native.run({ image: new ortNode.Tensor('float32', pixels, [1, 1, 256, 256]) }),
    times: { web: [] as number[], native: [] as number[] },
  };
}));
for (let r = -10; r < RUNS; r++) {
  for (const runner of runners) {
    for (const kind of ['web', 'native'] as const) {
      const start = performance.now();
      await runner[kind]();
      if (r >= 0) runner.times[kind].push(performance.now() - start);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(`| model | onnxruntime-web (WASM SIMD, 1 thread) median ms | onnxruntime-node (1 thread) median ms |\n| --- | ---: | ---: |`);
for (const { file, times } of runners) console.log(`| ${file} | ${median(times.web).toFixed(2)} | ${median(times.native).toFixed(2)} |`);
