/**
 * Memory of the request path, per image, measured in fresh V8 (Node) processes.
 *
 * - `model`: what the loaded model costs the isolate, independent of the image: ORT's WASM linear
 *   memory (read from the WebAssembly.Memory that ORT's module is instantiated with) after a session is
 *   created and one inference ran, plus the JS heap in use at that point (V8 heap statistics).
 * - `request`: the peak extra memory of one request's decode + preprocessing, from the kernel's peak
 *   resident set: a child process imports the code and decodes a small JPEG (so code and JIT are warm),
 *   forces GC, reads VmRSS, resets the peak counter (`echo 5 > /proc/self/clear_refs`), decodes the image
 *   and reads VmHWM. That covers jpeg-js's block buffers, its RGB output, the luminance plane and the
 *   resize buffers, wherever V8 put them.
 * - Two in flight: JPEG decoding is synchronous, so two requests never decode at the same moment; their
 *   peak is model + request + the other request's body and tensors.
 *
 * Usage: npx tsx scripts/bench/memory.ts IMAGE.jpg [...]   (Linux)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';

const MB = 1024 * 1024;

function kb(field: string): number {
  const match = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return Number(match![1]) * 1024;
}

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
    const { readModelInfo } = await import('../../src/inference/model-info');
    const { Classifier } = await import('../../src/inference/classifier');
    ort.env.wasm.numThreads = 1;
    const model = new Uint8Array(readFileSync(new URL('../../model.onnx', import.meta.url)));
    const info = await readModelInfo(model);
    const classifier = new Classifier(await ort.InferenceSession.create(model, { executionProviders: ['wasm'] }), ort.Tensor, info);
    await classifier.classify(new Uint8Array(info.inputSize * info.inputSize));
    gc();
    const v8 = await import('node:v8');
    console.log(JSON.stringify({ wasm: memories.reduce((n, m) => n + m.buffer.byteLength, 0), heap: v8.getHeapStatistics().used_heap_size }));
    return;
  }
  const { preprocessJpeg } = await import('../../src/preprocess');
  const { encodeJpeg } = await import('../../test/helpers/synthetic');
  preprocessJpeg(encodeJpeg(300, 300, (x, y) => (x ^ y) & 255), 256, { maxPixels: 1e8 });
  gc();
  const r0 = kb('VmRSS');
  writeFileSync('/proc/self/clear_refs', '5');
  const image = preprocessJpeg(new Uint8Array(readFileSync(file)), 256, { maxPixels: 100_000_000 });
  console.log(JSON.stringify({ rss: r0, peak: kb('VmHWM'), width: image.source.width, height: image.source.height }));
}

function run(mode: string, file = ''): Record<string, number> {
  const result = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', new URL(import.meta.url).pathname, '--child', mode, file], { encoding: 'utf8' });
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
    '| image | megapixels | JPEG bytes | model + ORT (MB) | one request at peak (MB) | two in flight, isolate estimate (MB) |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const file of process.argv.slice(2)) {
    const m = run('measure', file);
    const bytes = statSync(file).size;
    const request = (m.peak - m.rss) / MB;
    const two = model + request + (bytes + 256 * 256 * 5) / MB;
    rows.push(`| ${basename(file)} | ${((m.width * m.height) / 1e6).toFixed(1)} | ${bytes} | ${model.toFixed(1)} | ${request.toFixed(1)} | ${two.toFixed(1)} |`);
  }
  console.log(rows.join('\n'));
}
