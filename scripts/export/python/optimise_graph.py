"""Offline graph optimisation: onnxruntime's own rewrites, applied once at export instead of at every cold start.

onnxruntime optimises a graph when a session is created: it inlines functions (HardSwish), folds constants (the
batch-size arithmetic in front of the first convolution) and fuses Conv/Gemm with their activations. In the Worker
that work runs in WebAssembly that V8 compiles lazily, on the first request of every isolate. Doing it here, with the
same onnxruntime version as the Worker's onnxruntime-web, and saving the result lets the Worker create its session
with online optimisation off (the `graph_optimization` metadata tells it so). Only the `basic` and `extended`
levels are saved: the `all` level adds layout rewrites for the CPU doing the export, which WebAssembly lacks.

Usage (retrofits a model exported before this step; the card's hash and size follow):
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
    """Rewrites `path` in place with onnxruntime's `extended` optimisations and records them in its metadata.

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
    handle, optimised = tempfile.mkstemp(prefix=".optimise-graph-", suffix=".onnx.partial", dir=os.path.dirname(os.path.abspath(path)))
    os.close(handle)
    try:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = optimised
        ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

        model = onnx.load(optimised)
        before = {i.name: i for i in original.graph.initializer}
        after = {i.name: i for i in model.graph.initializer}
        lost = [name for name in keep_initializers if name not in after
                or not np.array_equal(numpy_helper.to_array(after[name]), numpy_helper.to_array(before[name]))]
        if lost:
            raise SystemExit(f"error: graph optimisation removed or changed initializers the Worker reads: {', '.join(lost)}")
        record = {"level": LEVEL, "onnxruntime": ort.__version__, "nodes_before": len(original.graph.node), "nodes_after": len(model.graph.node)}
        props = {p.key: p for p in model.metadata_props}
        entry = props.get(METADATA_KEY) or model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps({"level": LEVEL, "onnxruntime": ort.__version__})
        onnx.save(model, optimised)

        after = _outputs(optimised, pixels, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        differences = {name: float(np.abs(reference[name] - after[name]).max(initial=0) / max(1.0, np.abs(reference[name]).max(initial=1)))
                       for name in reference}
        record["max_rel_diff"] = max(differences.values())
        if not record["max_rel_diff"] <= PARITY_TOLERANCE:
            raise SystemExit(f"error: the optimised graph disagrees with the exported one by {record['max_rel_diff']:.2e} "
                             f"(> {PARITY_TOLERANCE}): " + ", ".join(f"{n} {d:.2e}" for n, d in differences.items()))
        shutil.copymode(path, optimised)  # mkstemp made it owner-only
        os.replace(optimised, path)
    finally:
        if os.path.exists(optimised):
            os.remove(optimised)
    print(f"graph: onnxruntime {ort.__version__} {LEVEL} optimisations saved, {record['nodes_before']} -> {record['nodes_after']} nodes, "
          f"max relative |diff| {record['max_rel_diff']:.2e}", flush=True)
    return record


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
    if METADATA_KEY in props:
        raise SystemExit(f"{model_path} is already optimised: {props[METADATA_KEY]}")
    if "input_size" not in props:
        raise SystemExit(f"{model_path} has no input_size metadata: it was not written by npm run export")
    head = json.loads(props.get("head", "{}"))
    keep = [name for part in ("dense", "norm", "out") for key, name in head.get(part, {}).items() if key != "epsilon"]
    worker = worker_onnxruntime_version()
    if worker != ort.__version__:
        raise SystemExit(f"this onnxruntime is {ort.__version__}, the Worker's onnxruntime-web {worker or 'is not installed (npm ci)'}: "
                         "the graph would be saved for the wrong runtime")
    record = optimise(model_path, check_inputs(int(props["input_size"])), keep, worker)
    if card_path:
        import report

        report.update_card(card_path, model_path, {"graph_optimization": record})
        print(f"updated {card_path} and its Markdown", flush=True)


if __name__ == "__main__":
    import sys

    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    _retrofit(*sys.argv[1:3])
