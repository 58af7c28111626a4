"""Offline graph optimisation: onnxruntime's own rewrites, applied once at export instead of at every cold start.

onnxruntime optimises a graph when a session is created: it inlines functions (HardSwish), folds constants (the
batch-size arithmetic in front of the first convolution) and fuses Conv/Gemm with their activations. In the Worker
that work runs in WebAssembly that V8 compiles lazily, on the first request of every isolate. Doing it here, with the
same onnxruntime version as the Worker's onnxruntime-web, and saving the result lets the Worker create its session
with online optimisation off (the `graph_optimization` metadata tells it so). Only the `basic` and `extended`
levels are saved: the `all` level adds layout rewrites for the CPU doing the export, which WebAssembly lacks.
One rewrite of our own follows onnxruntime's (`fold_grayscale_stem`); the metadata's `rewrites` names it.

Usage (retrofits a model exported before this step, or before a rewrite of our own; the card's hash and size follow):
  python scripts/export/python/optimise_graph.py model.onnx [model.card.json]
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

PARITY_TOLERANCE = 1e-4
METADATA_KEY = "graph_optimization"
LEVEL = "extended"
GRAYSCALE_STEM = "grayscale_stem"


def fold_grayscale_stem(model: onnx.ModelProto) -> bool:
    """Makes the first convolution read the one-channel input itself, in place; False (nothing changed) when the
    graph does not begin as described here.

    The exported graph copies the luminance input into three channels (Expand), normalises them (Mul, Add) and
    convolves all three. When scale and offset are the same for every channel, the three channels are equal
    everywhere, their zero padding included, so one channel convolved with the kernel summed over the three is the
    same function (up to the order of float additions): a third of the first layer's work in onnxruntime-web, whose
    im2col + GEMM takes every input channel, and no copy. ImageNet's per-channel normalisation (MobileNetV2) does
    not fold."""
    graph = model.graph
    initializers = {i.name: i for i in graph.initializer}
    outputs = {o.name for o in graph.output}

    def sole_consumer(name: str, *ops: tuple[str, str]):
        users = [n for n in graph.node if name in n.input]
        ok = len(users) == 1 and (users[0].op_type, users[0].domain or "ai.onnx") in ops and name not in outputs
        return users[0] if ok and users[0].input[0] == name else None

    def constant(name: str):
        return numpy_helper.to_array(initializers[name]) if name in initializers else None

    def used_once(name: str) -> bool:
        return sum(name in n.input for n in graph.node) == 1

    if len(graph.input) != 1:
        return False
    onnx_op = lambda op: (op, "ai.onnx")
    expand = sole_consumer(graph.input[0].name, onnx_op("Expand"))
    mul = expand and sole_consumer(expand.output[0], onnx_op("Mul"))
    add = mul and sole_consumer(mul.output[0], onnx_op("Add"))
    # onnxruntime fuses a convolution with a following activation it supports into FusedConv (same inputs).
    conv = add and sole_consumer(add.output[0], onnx_op("Conv"), ("FusedConv", "com.microsoft"))
    if not conv:
        return False
    shape, scale, offset, weight = (constant(n) for n in (expand.input[1], mul.input[1], add.input[1], conv.input[1]))
    group = next((a.i for a in conv.attribute if a.name == "group"), 1)
    if (shape is None or shape.tolist() != [1, 3, 1, 1] or weight is None or weight.ndim != 4 or weight.shape[1] != 3
            or group != 1 or not used_once(conv.input[1])):
        return False
    for value in (scale, offset):
        if value is None or value.shape != (1, 3, 1, 1) or not np.all(value == value.flat[0]):
            return False

    def replace(name: str, array: np.ndarray) -> str:
        if used_once(name):
            graph.initializer.remove(initializers[name])
        new = name + ".one_channel"
        graph.initializer.append(numpy_helper.from_array(array.astype(np.float32), new))
        return new

    mul.input[1] = replace(mul.input[1], scale[:, :1])
    add.input[1] = replace(add.input[1], offset[:, :1])
    conv.input[1] = replace(conv.input[1], weight.sum(axis=1, keepdims=True))
    mul.input[0] = expand.input[0]
    if used_once(expand.input[1]):
        graph.initializer.remove(initializers[expand.input[1]])
    graph.node.remove(expand)
    # Shapes recorded for the three-channel tensors would now be wrong.
    stale = {expand.output[0], mul.output[0], add.output[0]}
    for info in [v for v in graph.value_info if v.name in stale]:
        graph.value_info.remove(info)
    return True


def check_inputs(size: int, count: int = 8) -> np.ndarray:
    """Deterministic 0..255 luminance images with structure at every scale (gradients, rings, noise), for checking
    that a rewritten graph still computes the same function when no real images are at hand."""
    rng = np.random.default_rng(20261202)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    images = []
    for i in range(count):
        rings = np.sin((x - 0.5) ** 2 * (20 + 10 * i) + (y - 0.5) ** 2 * (30 + 7 * i))
        image = 110 + 60 * rings + 50 * (x if i % 2 else y) + rng.normal(0, 4 + 3 * i, (size, size))
        images.append(np.clip(image, 0, 255))
    return np.stack(images)[:, None].astype(np.float32)


def _outputs(path: str, pixels: np.ndarray, level: ort.GraphOptimizationLevel) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    runs = [session.run(names, {session.get_inputs()[0].name: pixels[i : i + 16]}) for i in range(0, len(pixels), 16)]
    return {name: np.concatenate([r[k] for r in runs]) for k, name in enumerate(names)}


def optimise(path: str, pixels: np.ndarray, keep_initializers: list[str], worker_onnxruntime: str | None) -> dict | None:
    """Rewrites `path` in place with onnxruntime's `extended` optimisations, then ours (`fold_grayscale_stem`), and
    records them in its metadata.

    Only when this onnxruntime is the version the Worker runs (`worker_onnxruntime`, onnxruntime-web's): the saved
    graph uses its fused operators, and the Worker skips online optimisation only for its own version. Otherwise the
    file is left as exported and None returned (the Worker then optimises at load, as before).
    Checks, before replacing the file, that the rewritten graph loaded with online optimisation off gives the
    original's outputs within PARITY_TOLERANCE (relative to each output's scale) on `pixels` [N, 1, S, S], and that
    the initializers named in `keep_initializers` (the head Grad-CAM reads) survived unchanged. Returns what the card
    records.
    """
    if worker_onnxruntime != ort.__version__:
        print(f"graph: left as exported: this onnxruntime is {ort.__version__}, the Worker's onnxruntime-web "
              f"{worker_onnxruntime or 'unknown'} (the Worker optimises it at load)", flush=True)
        return None
    reference = _outputs(path, pixels, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
    original = onnx.load(path)
    with tempfile.TemporaryDirectory(prefix=".optimise-graph-", dir=os.path.dirname(os.path.abspath(path))) as work:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = os.path.join(work, "optimised.onnx")
        ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        model = onnx.load(options.optimized_model_filepath)
    before = {i.name: i for i in original.graph.initializer}
    after = {i.name: i for i in model.graph.initializer}
    lost = [name for name in keep_initializers if name not in after
            or not np.array_equal(numpy_helper.to_array(after[name]), numpy_helper.to_array(before[name]))]
    if lost:
        raise SystemExit(f"error: graph optimisation removed or changed initializers the Worker reads: {', '.join(lost)}")
    rewrites = [GRAYSCALE_STEM] if fold_grayscale_stem(model) else []
    record = {"level": LEVEL, "onnxruntime": ort.__version__, "nodes_before": len(original.graph.node), "nodes_after": len(model.graph.node),
              "rewrites": rewrites}
    _set_metadata(model, rewrites)
    record["max_rel_diff"] = _replace_checked(path, model, pixels, reference, "the optimised graph disagrees with the exported one")
    print(f"graph: onnxruntime {ort.__version__} {LEVEL} optimisations saved{''.join(f', {r}' for r in rewrites)}, "
          f"{record['nodes_before']} -> {record['nodes_after']} nodes, max relative |diff| {record['max_rel_diff']:.2e}", flush=True)
    return record


def _set_metadata(model: onnx.ModelProto, rewrites: list[str]) -> None:
    props = {p.key: p for p in model.metadata_props}
    entry = props.get(METADATA_KEY) or model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps({"level": LEVEL, "onnxruntime": ort.__version__, "rewrites": rewrites})


def _replace_checked(path: str, model: onnx.ModelProto, pixels: np.ndarray, reference: dict[str, np.ndarray], what: str) -> float:
    """Replaces `path` with `model` once it gives `reference`'s outputs on `pixels` within PARITY_TOLERANCE (relative
    to each output's scale), loaded with online optimisation off as the Worker loads it; else leaves `path` alone and
    exits with `what`. Returns the largest relative difference."""
    handle, candidate = tempfile.mkstemp(prefix=".optimise-graph-", suffix=".onnx.partial", dir=os.path.dirname(os.path.abspath(path)))
    os.close(handle)
    try:
        onnx.save(model, candidate)
        after = _outputs(candidate, pixels, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        differences = {name: float(np.abs(reference[name] - after[name]).max(initial=0) / max(1.0, np.abs(reference[name]).max(initial=1)))
                       for name in reference}
        worst = max(differences.values())
        if not worst <= PARITY_TOLERANCE:
            raise SystemExit(f"error: {what} by {worst:.2e} (> {PARITY_TOLERANCE}): " + ", ".join(f"{n} {d:.2e}" for n, d in differences.items()))
        shutil.copymode(path, candidate)  # mkstemp made it owner-only
        os.replace(candidate, path)
    finally:
        if os.path.exists(candidate):
            os.remove(candidate)
    return worst


def worker_onnxruntime_version() -> str | None:
    """The onnxruntime-web version the Worker bundles, from this checkout's node_modules (None when not installed)."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "node_modules", "onnxruntime-web", "package.json")
    try:
        with open(path) as fh:
            return json.load(fh)["version"]
    except (OSError, ValueError, KeyError):
        return None


def _retrofit(model_path: str, card_path: str | None = None) -> None:
    model = onnx.load(model_path)
    props = {p.key: p.value for p in model.metadata_props}
    if "input_size" not in props:
        raise SystemExit(f"{model_path} has no input_size metadata: it was not written by npm run export")
    worker = worker_onnxruntime_version()
    if worker != ort.__version__:
        raise SystemExit(f"this onnxruntime is {ort.__version__}, the Worker's onnxruntime-web {worker or 'is not installed (npm ci)'}: "
                         "the graph would be saved for the wrong runtime")
    pixels = check_inputs(int(props["input_size"]))
    previous = None
    if card_path:  # checked before the model file changes
        with open(card_path) as fh:
            previous = json.load(fh).get("graph_optimization")
        if previous is None and METADATA_KEY in props:
            raise SystemExit(f"{card_path} records no graph optimisation: is it {model_path}'s card?")
    if METADATA_KEY in props:
        # onnxruntime's rewrites are saved already; ours may have come later.
        saved = json.loads(props[METADATA_KEY])
        if saved.get("onnxruntime") != ort.__version__ or GRAYSCALE_STEM in saved.get("rewrites", []) or not fold_grayscale_stem(model):
            raise SystemExit(f"{model_path} is already optimised: {props[METADATA_KEY]}")
        reference = _outputs(model_path, pixels, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        rewrites = [*saved.get("rewrites", []), GRAYSCALE_STEM]
        _set_metadata(model, rewrites)
        difference = _replace_checked(model_path, model, pixels, reference, "the rewritten graph disagrees with the saved one")
        print(f"graph: {GRAYSCALE_STEM} folded into the saved graph, {len(model.graph.node)} nodes, max relative |diff| {difference:.2e}", flush=True)
        changes = lambda record: {**record, "nodes_after": len(model.graph.node), "rewrites": rewrites,
                                  "max_rel_diff": record["max_rel_diff"] + difference}  # within both steps' sum of the exported graph
    else:
        head = json.loads(props.get("head", "{}"))
        keep = [name for part in ("dense", "norm", "out") for key, name in head.get(part, {}).items() if key != "epsilon"]
        record = optimise(model_path, pixels, keep, worker)
        changes = lambda _: record
    if card_path:
        import report

        report.update_card(card_path, model_path, {"graph_optimization": changes(previous)})
        print(f"updated {card_path} and its Markdown", flush=True)


if __name__ == "__main__":
    import sys

    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    _retrofit(*sys.argv[1:3])
