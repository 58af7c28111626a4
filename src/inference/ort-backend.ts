/**
 * Everything workerd-specific about running onnxruntime-web lives here.
 *
 * workerd forbids compiling WebAssembly from bytes at run time; the only way in is a module that
 * wrangler precompiled at build time (its CompiledWasm rule imports `*.wasm` as a WebAssembly.Module).
 * ORT's Emscripten loader, however, always calls `WebAssembly.instantiate(bytes, imports)`.
 * So ORT gets a placeholder `wasmBinary` (which stops it from fetching anything) and, while the
 * first session is created (that is when ORT initialises its backend), `WebAssembly.instantiate`
 * is routed to the precompiled module. Threads stay at 1 (Workers have none) and the proxy worker off.
 */
import * as ort from 'onnxruntime-web/wasm';
import ortWasmModule from 'onnxruntime-web/ort-wasm-simd-threaded.wasm';

export { ort };

const WASM_MAGIC = new Uint8Array([0x00, 0x61, 0x73, 0x6d]);

/**
 * Creates an InferenceSession on ORT's single-threaded WASM SIMD backend.
 * @param graphOptimizationLevel 'disabled' for a graph whose rewrites were saved at export (onlineGraphOptimization):
 *   online optimisation runs in WebAssembly that V8 compiles lazily, so it costs every isolate's first request.
 */
export async function createWasmSession(model: Uint8Array, graphOptimizationLevel: 'disabled' | 'all' = 'all'): Promise<ort.InferenceSession> {
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = WASM_MAGIC;
  ort.env.logLevel = 'error';

  const instantiate = WebAssembly.instantiate;
  const precompiled = ortWasmModule as WebAssembly.Module;
  WebAssembly.instantiate = ((source: unknown, imports?: WebAssembly.Imports) =>
    source instanceof WebAssembly.Module
      ? instantiate(source, imports)
      : instantiate(precompiled, imports).then((instance) => ({ instance, module: precompiled }))) as typeof WebAssembly.instantiate;
  try {
    return await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel });
  } finally {
    WebAssembly.instantiate = instantiate;
  }
}
