/**
 * The shipped model.onnx carries onnxruntime's `extended` rewrites, saved at export (scripts/export/python/optimise_graph.py),
 * so the Worker creates its session with online optimisation off: that must compute what a fully optimised session
 * computes, and the retrofit command must refuse to optimise a graph twice.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { readModelInfo } from '../../src/inference/model-info';
import { EXPORT_DIR, ensurePythonEnv } from '../../scripts/export/python-env';

const MODEL = new URL('../../model.onnx', import.meta.url).pathname;

describe('the shipped model, optimised at export', () => {
  it('says so in its metadata, and gives the same outputs with online optimisation off as with all of it on', async () => {
    const bytes = new Uint8Array(readFileSync(MODEL));
    const info = await readModelInfo(bytes);
    expect(info.sessionGraphOptimization).toBe('disabled');
    ort.env.wasm.numThreads = 1;
    const size = info.inputSize;
    const pixels = new Float32Array(size * size).map((_, i) => 128 + 100 * Math.sin(i / 97) * Math.cos(i / (size * 13)));
    const run = async (graphOptimizationLevel: 'disabled' | 'all') => {
      const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel });
      const outputs = await session.run({ image: new ort.Tensor('float32', pixels, [1, 1, size, size]) });
      await session.release();
      return outputs;
    };
    const [off, on] = [await run('disabled'), await run('all')];
    expect(Object.keys(off).sort()).toEqual(Object.keys(on).sort());
    for (const name of Object.keys(on)) {
      const a = on[name].data as Float32Array;
      const b = off[name].data as Float32Array;
      const scale = Math.max(1, ...Array.from(a, Math.abs));
      const worst = Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
      expect(worst / scale, name).toBeLessThan(1e-5);
    }
  }, 60_000);

  it('cannot be optimised twice: the retrofit command refuses and leaves the file alone', () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'optimise-graph-')), 'model.onnx');
    copyFileSync(MODEL, copy);
    const python = ensurePythonEnv(() => undefined);
    const result = spawnSync(python, [join(EXPORT_DIR, 'python', 'optimise_graph.py'), copy], { encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/already optimised: \{"level": "extended", "onnxruntime": "\d+\.\d+\.\d+"\}/);
    expect(readFileSync(copy).equals(readFileSync(MODEL))).toBe(true);
  }, 60_000);
});
