"""Writes model.onnx (opset 17, dynamic batch) with the metadata contract the Worker reads, and
proves that onnxruntime reproduces PyTorch on the test split."""
from __future__ import annotations

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch

import optimise_graph

PARITY_TOLERANCE = 1e-4
OPSET = 17


ASSESSMENT_OUTPUTS = ["gate_probabilities", "ood_distance"]


def _torch_outputs(exportable, pixels: torch.Tensor, batch: int = 64) -> dict[str, np.ndarray]:
    names = ["probabilities", "logits", "features"] + (ASSESSMENT_OUTPUTS if exportable.with_assessment else [])
    out: dict[str, list] = {name: [] for name in names if name != "features"}
    with torch.no_grad():
        for start in range(0, len(pixels), batch):
            for name, value in zip(names, exportable(pixels[start : start + batch])):
                if name != "features":
                    out[name].append(value.numpy())
    return {name: np.concatenate(v) for name, v in out.items()}


def _ort_outputs(path: str, pixels: np.ndarray, names: list[str], batch: int = 64, optimised: bool = False) -> dict[str, np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, os.cpu_count() or 1)
    if optimised:  # as the Worker runs a graph optimised at export: online optimisation off
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    out = [session.run(names, {"image": pixels[s : s + batch]}) for s in range(0, len(pixels), batch)]
    return {name: np.concatenate([o[k] for o in out]) for k, name in enumerate(names)}


def head_description(exportable) -> dict:
    """Where the Worker finds the head's weights (ONNX initializer names) to compute Grad-CAM itself."""
    head = exportable.model.head
    prefix = "model.head."
    return {
        "pooling": "global_max",
        "dense": {"weight": prefix + "dense.weight", "bias": prefix + "dense.bias"},
        "activation": "relu",
        "norm": {"weight": prefix + "norm.weight", "bias": prefix + "norm.bias", "mean": prefix + "norm.running_mean",
                 "var": prefix + "norm.running_var", "epsilon": head.norm.eps},
        "out": {"weight": prefix + "out.weight", "bias": prefix + "out.bias"},
    }


def metadata(job: dict, classes: list[str], temperature: float, metrics: dict, training: dict, head: dict,
             assessment: dict | None) -> dict[str, str]:
    outputs = {
        "probabilities": "softmax(logits / temperature), temperature fitted on the validation images of seen and unseen sources",
        "logits": "uncalibrated class scores",
        "features": "last convolutional feature maps [N, K, h, w], input of the head's global max pooling",
    }
    extra = {}
    if assessment:
        outputs["gate_probabilities"] = "softmax over the kinds of image in assessment.gate.kinds; the first is the accepted one"
        outputs["ood_distance"] = "distance to the training chest X-rays: the larger of two scaled Mahalanobis distances (see assessment.ood)"
        extra["assessment"] = json.dumps(assessment)
    return {**extra,
        "classes": json.dumps(classes),
        "model_name": job["model_name"],
        "model_version": job["model_version"],
        "input_size": str(job["input_size"]),
        "preprocessing": job["preprocessing"],
        "temperature": f"{temperature:.6f}",
        "metrics": json.dumps(metrics),
        "training": json.dumps(training),
        "intended_use": job["intended_use"],
        "limitations": json.dumps(job["limitations"]),
        "head": json.dumps(head),
        "outputs": json.dumps(outputs),
    }


def export(exportable, job: dict, classes: list[str], temperature: float, metrics: dict, training: dict,
           test_pixels: torch.Tensor, calibration_pixels: torch.Tensor, test_indices: list[int], assessment: dict | None) -> dict:
    path = job["out"]
    size = job["input_size"]
    outputs = ["probabilities", "logits", "features"] + (ASSESSMENT_OUTPUTS if exportable.with_assessment else [])
    torch.onnx.export(
        exportable,
        (torch.zeros(1, 1, size, size),),
        path,
        input_names=["image"],
        output_names=outputs,
        dynamic_axes={name: {0: "batch"} for name in ["image", *outputs]},
        opset_version=OPSET,
        dynamo=False,
    )
    model = onnx.load(path)
    onnx.checker.check_model(model)
    head = head_description(exportable)
    names = {i.name for i in model.graph.initializer}
    for part in ("dense", "norm", "out"):
        for key, name in head[part].items():
            if key != "epsilon" and name not in names:
                raise SystemExit(f"error: the exported graph has no initializer {name}; Grad-CAM could not read the head")
    for key, value in metadata(job, classes, temperature, metrics, training, head, assessment).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "cxr-edge scripts/export"
    onnx.save(model, path)
    # int8 from the graph as exported: onnxruntime's fused ops (next step) are not what its quantiser expects.
    quantized = quantize(path, test_pixels.numpy(), calibration_pixels.numpy(), job, classes, test_indices) if job.get("quantize") else None
    head_initializers = [name for part in ("dense", "norm", "out") for key, name in head[part].items() if key != "epsilon"]
    graph = optimise_graph.optimise(path, test_pixels[:32].numpy(), head_initializers, job.get("onnxruntime_web"))

    reference_torch = _torch_outputs(exportable, test_pixels)
    reference_ort = _ort_outputs(path, test_pixels.numpy(), list(reference_torch), optimised=graph is not None)
    # Relative to the scale of each output (logits and distances are not probabilities).
    differences = {name: float(np.abs(reference_torch[name] - reference_ort[name]).max(initial=0) / max(1.0, np.abs(reference_torch[name]).max(initial=1)))
                   for name in reference_torch}
    difference = max(differences.values())
    torch_probabilities = reference_torch["probabilities"]
    print(f"parity: onnxruntime (Python) vs PyTorch on {len(test_pixels)} test images: max |diff| {difference:.2e}", flush=True)
    if not difference <= PARITY_TOLERANCE:
        raise SystemExit(f"error: exported model disagrees with PyTorch by {difference:.2e} (> {PARITY_TOLERANCE}): "
                         + ", ".join(f"{name} {d:.2e}" for name, d in differences.items()))

    reference = {
        "indices": test_indices,
        "probabilities": torch_probabilities.astype(float).round(8).tolist(),
        "onnxruntime_python_max_abs_diff": difference,
        "size_bytes": os.path.getsize(path),
        "graph_optimization": graph,
    }
    if quantized:
        reference["quantized"] = quantized
    with open(os.path.join(job["work"], "reference.json"), "w") as fh:
        json.dump(reference, fh)
    return reference


def quantize(path: str, test_pixels: np.ndarray, calibration: np.ndarray, job: dict, classes: list[str], test_indices: list[int]) -> dict:
    """Static int8 (QDQ) quantisation calibrated on validation images, evaluated on test."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from metrics import summarise

    class Reader(CalibrationDataReader):
        def __init__(self, data: np.ndarray):
            self.items = iter([{"image": data[i : i + 1]} for i in range(len(data))])

        def get_next(self):
            return next(self.items, None)

    out = path[:-5] + ".int8.onnx" if path.endswith(".onnx") else path + ".int8"
    prepared = out + ".prep.onnx"
    quant_pre_process(path, prepared)
    quantize_static(prepared, out, Reader(calibration), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True)
    os.remove(prepared)
    probabilities = _ort_outputs(out, test_pixels, ["probabilities"])["probabilities"]
    labels = np.asarray([job["rows"][i]["label_set"][0] for i in test_indices])
    summary = summarise(probabilities, labels, classes)
    print(f"int8: {out} ({os.path.getsize(out)} bytes) test accuracy {summary['accuracy']:.4f}, macro-F1 {summary['macro_f1']:.4f}", flush=True)
    return {"path": os.path.basename(out), "size_bytes": os.path.getsize(out), "accuracy": summary["accuracy"],
            "macro_f1": summary["macro_f1"]}
