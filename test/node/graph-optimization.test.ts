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
import { onlineGraphOptimization, readModelInfo } from '../../src/inference/model-info';
import { EXPORT_DIR, ensurePythonEnv } from '../../scripts/export/python-env';

const MODEL = new URL('../../model.onnx', import.meta.url).pathname;

describe('the shipped model, optimised at export', () => {
  it('says so in its metadata, and gives the same outputs with online optimisation off as with all of it on', async () => {
    const bytes = new Uint8Array(readFileSync(MODEL));
    const info = await readModelInfo(bytes);
    // Saved by the onnxruntime the Worker runs: after an upgrade of onnxruntime-web this fails until the model is
    // exported again (or optimise_graph.py is run on a fresh export), since the Worker would optimise online again.
    expect(info.graphOptimization).toEqual({ level: 'extended', onnxruntime: ort.env.versions.web });
    expect(onlineGraphOptimization(info, ort.env.versions.web)).toBe('disabled');
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

  it('refuses a rewrite that drops an initializer the Worker reads (Grad-CAM reads the head by name), leaving the file alone, and skips another onnxruntime', () => {
    const dir = mkdtempSync(join(tmpdir(), 'optimise-graph-'));
    const python = ensurePythonEnv(() => undefined);
    // Conv then BatchNormalization: onnxruntime's basic level folds the BatchNormalization into the Conv, so its
    // initializers disappear from the optimised graph.
    const result = spawnSync(python, ['-c', `
import hashlib, sys, numpy as np, onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T
sys.path.insert(0, sys.argv[2])
import optimise_graph
c = 4
inits = [nh.from_array(np.full((c, 1, 3, 3), 0.1, np.float32), "w")] + [nh.from_array(np.full(c, v, np.float32), n) for n, v in
         [("bn.scale", 1.5), ("bn.bias", 0.2), ("bn.mean", 0.1), ("bn.var", 2.0)]]
g = h.make_graph([h.make_node("Conv", ["image", "w"], ["x"], pads=[1, 1, 1, 1]),
                  h.make_node("BatchNormalization", ["x", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["features"])],
                 "g", [h.make_tensor_value_info("image", T.FLOAT, [None, 1, 8, 8])], [h.make_tensor_value_info("features", T.FLOAT, [None, c, 8, 8])], inits)
m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)]); m.ir_version = 8
path = sys.argv[1] + "/m.onnx"
onnx.save(m, path)
before = hashlib.sha256(open(path, "rb").read()).hexdigest()
try:
    optimise_graph.optimise(path, optimise_graph.check_inputs(8, 2), ["bn.scale", "bn.var"], optimise_graph.ort.__version__)
except SystemExit as e:
    print("refused:", e)
print("unchanged" if hashlib.sha256(open(path, "rb").read()).hexdigest() == before else "changed")
print("kept" if optimise_graph.optimise(path, optimise_graph.check_inputs(8, 2), [], optimise_graph.ort.__version__)["nodes_after"] == 1 else "not fused")
print("skipped" if optimise_graph.optimise(path, optimise_graph.check_inputs(8, 2), [], "0.0.0") is None else "optimised for another runtime")
`, dir, join(EXPORT_DIR, 'python')], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/refused: error: graph optimisation removed or changed initializers the Worker reads: bn\.scale, bn\.var/);
    expect(result.stdout).toMatch(/^unchanged$/m);
    // Without that constraint the same graph is optimised: one fused Conv. For another onnxruntime than the Worker's
    // it is left as exported.
    expect(result.stdout).toMatch(/^kept$/m);
    expect(result.stdout).toMatch(/graph: left as exported: this onnxruntime is \S+, the Worker's onnxruntime-web 0\.0\.0/);
    expect(result.stdout).toMatch(/^skipped$/m);
  }, 60_000);

  it('cannot be optimised twice: the retrofit command refuses and leaves the file alone', () => {
    const copy = join(mkdtempSync(join(tmpdir(), 'optimise-graph-')), 'model.onnx');
    copyFileSync(MODEL, copy);
    const python = ensurePythonEnv(() => undefined);
    const result = spawnSync(python, [join(EXPORT_DIR, 'python', 'optimise_graph.py'), copy], { encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/already optimised: \{"level": "extended", "onnxruntime": "\d+\.\d+\.\d+", "rewrites": \["grayscale_stem"\]\}/);
    expect(readFileSync(copy).equals(readFileSync(MODEL))).toBe(true);
  }, 60_000);
});

describe('int8 after the fact (scripts/bench/int8.ts)', () => {
  it('refuses a graph with saved rewrites, which onnxruntime\'s quantiser cannot read, and says where to quantise instead', () => {
    const python = ensurePythonEnv(() => undefined);
    const out = join(mkdtempSync(join(tmpdir(), 'int8-')), 'model.int8.onnx');
    const result = spawnSync(python, [join(EXPORT_DIR, 'python', 'quantize_model.py'), '/nonexistent/job.json', MODEL, out], { encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/holds onnxruntime's saved graph rewrites .* quantise at export instead \(npm run export -- \.\.\. --quantize\)/);
  }, 60_000);
});

describe('fold_grayscale_stem: the first convolution reads the one-channel input', () => {
  // The exported graphs' opening: Expand the [N, 1, S, S] input to three channels, normalise (Mul, Add), convolve.
  const STEM = `
import json, sys, numpy as np, onnx, onnxruntime as ort
from onnx import helper as h, numpy_helper as nh, TensorProto as T
sys.path.insert(0, sys.argv[2])
import optimise_graph
rng = np.random.default_rng(7)
def stem(path, scale, offset):
    inits = [nh.from_array(np.array([1, 3, 1, 1], np.int64), "shape"), nh.from_array(np.array(scale, np.float32).reshape(1, 3, 1, 1), "scale"),
             nh.from_array(np.array(offset, np.float32).reshape(1, 3, 1, 1), "offset"),
             nh.from_array(rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "w"), nh.from_array(rng.normal(0, 1, 4).astype(np.float32), "b")]
    g = h.make_graph([h.make_node("Expand", ["image", "shape"], ["rgb"]), h.make_node("Mul", ["rgb", "scale"], ["scaled"]),
                      h.make_node("Add", ["scaled", "offset"], ["normalised"]),
                      h.make_node("Conv", ["normalised", "w", "b"], ["conv"], pads=[1, 1, 1, 1], strides=[2, 2]), h.make_node("Relu", ["conv"], ["features"])],
                     "g", [h.make_tensor_value_info("image", T.FLOAT, [None, 1, 8, 8])], [h.make_tensor_value_info("features", T.FLOAT, [None, 4, 4, 4])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)]); m.ir_version = 8
    m.metadata_props.add(key="input_size", value="8")
    onnx.save(m, path)
    pixels = optimise_graph.check_inputs(8, 2)
    return pixels, ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"image": pixels})[0]
def report(name, path, pixels, expected):
    m = onnx.load(path)
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"image": pixels})[0]
    conv = next(n for n in m.graph.node if n.op_type in ("Conv", "FusedConv"))
    w = {i.name: i for i in m.graph.initializer}[conv.input[1]]
    meta = {p.key: p.value for p in m.metadata_props}
    print(name, json.dumps({"ops": [n.op_type for n in m.graph.node], "kernel": list(w.dims), "rewrites": json.loads(meta["graph_optimization"])["rewrites"],
                            "diff": float(np.abs(got - expected).max())}))
d = sys.argv[1]
# Every channel normalised alike (MobileNetV3's -1..1): folded at export.
pixels, expected = stem(d + "/same.onnx", [1 / 127.5] * 3, [-1.0] * 3)
optimise_graph.optimise(d + "/same.onnx", pixels, [], ort.__version__)
report("same", d + "/same.onnx", pixels, expected)
# ImageNet's per-channel normalisation (MobileNetV2): the three channels differ, nothing to fold.
pixels, expected = stem(d + "/per-channel.onnx", [1 / 58.4, 1 / 57.1, 1 / 57.4], [-2.1, -2.0, -1.8])
optimise_graph.optimise(d + "/per-channel.onnx", pixels, [], ort.__version__)
report("per-channel", d + "/per-channel.onnx", pixels, expected)
# A model optimised before the rewrite existed (as the 2026-12-03 model was): the retrofit command folds it alone.
pixels, expected = stem(d + "/before.onnx", [1 / 127.5] * 3, [-1.0] * 3)
fold, optimise_graph.fold_grayscale_stem = optimise_graph.fold_grayscale_stem, lambda model: False
optimise_graph.optimise(d + "/before.onnx", pixels, [], ort.__version__)
optimise_graph.fold_grayscale_stem = fold
report("before", d + "/before.onnx", pixels, expected)
optimise_graph._retrofit(d + "/before.onnx")
report("retrofitted", d + "/before.onnx", pixels, expected)
`;

  it('folds a stem whose channels are normalised alike, at export and by the retrofit command, and leaves a per-channel one alone', () => {
    const dir = mkdtempSync(join(tmpdir(), 'grayscale-stem-'));
    const python = ensurePythonEnv(() => undefined);
    const result = spawnSync(python, ['-c', STEM, dir, join(EXPORT_DIR, 'python')], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const runs = Object.fromEntries(
      result.stdout.split('\n').filter((line) => /^\S+ \{/.test(line)).map((line) => [line.slice(0, line.indexOf(' ')), JSON.parse(line.slice(line.indexOf(' ') + 1))]),
    ) as Record<string, { ops: string[]; kernel: number[]; rewrites: string[]; diff: number }>;
    expect(runs.same).toMatchObject({ kernel: [4, 1, 3, 3], rewrites: ['grayscale_stem'] });
    expect(runs.same.ops).not.toContain('Expand');
    expect(runs['per-channel']).toMatchObject({ kernel: [4, 3, 3, 3], rewrites: [] });
    expect(runs['per-channel'].ops).toContain('Expand');
    expect(runs.before).toMatchObject({ kernel: [4, 3, 3, 3], rewrites: [] });
    expect(runs.retrofitted).toMatchObject({ kernel: [4, 1, 3, 3], rewrites: ['grayscale_stem'] });
    expect(result.stdout).toMatch(/graph: grayscale_stem folded into the saved graph/);
    for (const run of Object.values(runs)) expect(run.diff).toBeLessThan(1e-4);
  }, 60_000);
});
