"""Static int8 (QDQ) quantisation of an exported model, after the fact: the same calibration (the first 200
validation images) and the same test evaluation as `npm run export -- --quantize`, for a model whose training
run is gone. Reads a job file written by scripts/bench/int8.ts; prints one JSON line."""
from __future__ import annotations

import json
import os
import shutil
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(__file__))
from export_onnx import _ort_outputs, quantize  # noqa: E402
from metrics import summarise  # noqa: E402


def main() -> int:
    model, out = sys.argv[2], sys.argv[3]
    saved = {p.key: p.value for p in onnx.load(model, load_external_data=False).metadata_props}.get("graph_optimization")
    if saved:
        # onnxruntime's quantiser cannot infer the shapes of its own fused operators (FusedConv).
        raise SystemExit(f"{model} holds onnxruntime's saved graph rewrites ({saved}), which its quantiser cannot read: "
                         "quantise at export instead (npm run export -- ... --quantize), which starts from the graph as exported")
    job = json.load(open(sys.argv[1]))
    size = job["input_size"]
    pixels = np.fromfile(job["pixels"], dtype=np.uint8).reshape(-1, 1, size, size)
    test = pixels[np.asarray(job["split"]["test"])].astype(np.float32)
    calibration = pixels[np.asarray(job["split"]["val"][:200])].astype(np.float32)
    work = out[:-10] + ".onnx" if out.endswith(".int8.onnx") else out + ".fp32.onnx"
    shutil.copyfile(model, work)  # quantize() writes <name>.int8.onnx next to its input
    # quantize() reads each test image's label from the export's job rows.
    job["rows"] = [{"label_set": [label]} for label in job["labels"]]
    int8 = quantize(work, test, calibration, job, job["classes"], job["split"]["test"])
    labels = np.asarray(job["labels"])[np.asarray(job["split"]["test"])]
    fp32 = summarise(_ort_outputs(model, test, ["probabilities"])["probabilities"], labels, job["classes"])
    print(json.dumps({"fp32": {"accuracy": fp32["accuracy"], "macro_f1": fp32["macro_f1"]}, "int8": int8,
                      "int8_path": os.path.join(os.path.dirname(work), int8["path"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
