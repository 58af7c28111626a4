/**
 * Memory of the request path, per image, measured in fresh V8 (Node) processes.
 *
 * - `model`: what the loaded model costs the isolate, independent of the image: ORT's WASM linear
 *   memory (read from the WebAssembly.Memory that ORT's module is instantiated with) after a session is
 *   created and one inference ran, plus the JS heap in use at that point (V8 heap statistics).
 * - `request`: what one request's decode + preprocessing allocates, an upper bound of its peak: a child
 *   process decodes the image five times (so code and JIT are warm, as in a warm isolate), collects
 *   garbage, then decodes it once more while reading (a) how much ArrayBuffer memory grew - the coefficient
 *   stores, planes and resize buffers, the big allocations; its young generation is large enough that no
 *   garbage collection runs meanwhile (a PerformanceObserver confirms it, a row says so when one did), so
 *   nothing is freed and everything held at any moment is counted - and (b) every JS object allocated,
 *   garbage included (V8's sampling heap profiler with collected objects kept, one sample per 256 bytes).
 * - Two in flight: JPEG decoding is synchronous, so two requests never decode at the same moment; their
 *   peak is model + request + the other request's body and tensors.
 *
 * Usage: npx tsx scripts/bench/memory.ts IMAGE.jpg|IMAGE.dcm [...]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';

const MB = 1024 * 1024;

async function child(mode: string, file: string): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc!;
  if (mode === 'model') {
    const memories: WebAssembly.Memory[] = [];
    const instantiate = WebAssembly.instantiate;
    WebAssembly.instantiate = ((source: BufferSource, imports?: WebAssembly.Imports) => {
      for (const ns of Object.values(imports ?? {})) for (const v of Object.values(ns)) if (v instanceof WebAssembly.Memory) memories.push(v);
      return instantiate(source, imports);
    }) as typeof WebAssembly.instantiate;
    const ort = await import('onnxruntime-web');
    const { onlineGraphOptimization, readModelInfo } = await import('../../src/inference/model-info');
    const { Classifier } = await import('../../src/inference/classifier');
    ort.env.wasm.numThreads = 1;
    const model = new Uint8Array(readFileSync(new URL('../../model.onnx', import.meta.url)));
    const info = await readModelInfo(model);
    const classifier = new Classifier(await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: onlineGraphOptimization(info, ort.env.versions.web) }), ort.Tensor, info);
    await classifier.classify(new Uint8Array(info.inputSize * info.inputSize));
    gc();
    const v8 = await import('node:v8');
    console.log(JSON.stringify({ wasm: memories.reduce((n, m) => n + m.buffer.byteLength, 0), heap: v8.getHeapStatistics().used_heap_size }));
    return;
  }
  const { preprocessImage } = await import('../../src/preprocess');
  const { PerformanceObserver } = await import('node:perf_hooks');
  const { Session } = await import('node:inspector/promises');
  const body = new Uint8Array(readFileSync(file));
  // Warm: the same image first, so code and JIT state for its path exist (a warm isolate's case).
  for (let i = 0; i < 5; i++) preprocessImage(body, 256, { maxPixels: 100_000_000 });
  gc();
  await new Promise((resolve) => setTimeout(resolve, 20)); // let that collection's report pass
  const gcs: { startTime: number; duration: number }[] = [];
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  const inspector = new Session();
  inspector.connect();
  // Every JS object the decode allocates, garbage included, sampled every 256 bytes.
  await inspector.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as object);
  const before = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  const image = preprocessImage(body, 256, { maxPixels: 100_000_000 });
  const t1 = performance.now();
  const buffers = process.memoryUsage().arrayBuffers - before;
  const { profile } = (await inspector.post('HeapProfiler.stopSampling')) as { profile: { head: SampledNode } };
  await new Promise((resolve) => setTimeout(resolve, 20)); // GC entries arrive asynchronously
  observer.disconnect();
  const sampled = (node: SampledNode): number => node.selfSize + node.children.reduce((n, c) => n + sampled(c), 0);
  const collections = gcs.filter((g) => g.startTime < t1 && g.startTime + g.duration > t0).length;
  console.log(JSON.stringify({ buffers, heap: sampled(profile.head), collections, width: image.source.width, height: image.source.height }));
}

interface SampledNode {
  selfSize: number;
  children: SampledNode[];
}

function run(mode: string, file = ''): Record<string, number> {
  const result = spawnSync(process.execPath, ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=512', '--import', 'tsx', new URL(import.meta.url).pathname, '--child', mode, file], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout.trim().split('\n').pop()!);
}

if (process.argv[2] === '--child') {
  await child(process.argv[3], process.argv[4]);
} else {
  const { wasm, heap } = run('model');
  const model = (wasm + heap) / MB;
  console.log(`model: ORT WASM memory ${(wasm / MB).toFixed(1)} MB + JS heap ${(heap / MB).toFixed(1)} MB = ${model.toFixed(1)} MB\n`);
  const rows = [
    '| image | megapixels | file bytes | model + ORT (MB) | one request: ArrayBuffers allocated (MB) | one request: JS objects allocated (MB) | two in flight, upper bound (MB) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const file of process.argv.slice(2)) {
    const m = run('measure', file);
    const bytes = statSync(file).size;
    const note = m.collections > 0 ? ' (a GC ran meanwhile: lower bound)' : '';
    // One request's allocations, both bodies (each request holds its own), the other request's tensors.
    const two = model + (m.buffers + m.heap) / MB + (2 * bytes + 256 * 256 * 5) / MB;
    rows.push(`| ${basename(file)} | ${((m.width * m.height) / 1e6).toFixed(1)} | ${bytes} | ${model.toFixed(1)} | ${(m.buffers / MB).toFixed(1)}${note} | ${(m.heap / MB).toFixed(1)}${note} | ${two.toFixed(1)} |`);
  }
  console.log(rows.join('\n'));
}
