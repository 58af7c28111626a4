"""Writes model.onnx (opset 17, dynamic batch) with the metadata contract the Worker reads, and
proves that onnxruntime reproduces PyTorch on the test split."""
from __future__ import annotations

import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch

PARITY_TOLERANCE = 1e-4
OPSET = 17


def _torch_outputs(exportable, pixels: torch.Tensor, batch: int = 64):
    probabilities, logits = [], []
    with torch.no_grad():
        for start in range(0, len(pixels), batch):
            p, l, _ = exportable(pixels[start : start + batch])
            probabilities.append(p.numpy())
            logits.append(l.numpy())
    return np.concatenate(probabilities), np.concatenate(logits)


def _ort_outputs(path: str, pixels: np.ndarray, batch: int = 64):
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, os.cpu_count() or 1)
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    out = [session.run(["probabilities", "logits"], {"image": pixels[s : s + batch]}) for s in range(0, len(pixels), batch)]
    return np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out])


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


def metadata(job: dict, classes: list[str], temperature: float, metrics: dict, training: dict, head: dict) -> dict[str, str]:
    return {
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
        "outputs": json.dumps({
            "probabilities": "softmax(logits / temperature), calibrated on the validation split",
            "logits": "uncalibrated class scores",
            "features": "last convolutional feature maps [N, K, h, w], input of the head's global max pooling",
        }),
    }


def export(exportable, job: dict, classes: list[str], temperature: float, metrics: dict, training: dict,
           test_pixels: torch.Tensor, calibration_pixels: torch.Tensor) -> dict:
    path = job["out"]
    size = job["input_size"]
    torch.onnx.export(
        exportable,
        (torch.zeros(1, 1, size, size),),
        path,
        input_names=["image"],
        output_names=["probabilities", "logits", "features"],
        dynamic_axes={name: {0: "batch"} for name in ("image", "probabilities", "logits", "features")},
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
    for key, value in metadata(job, classes, temperature, metrics, training, head).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "cxr-edge scripts/export"
    onnx.save(model, path)

    torch_probabilities, torch_logits = _torch_outputs(exportable, test_pixels)
    ort_probabilities, ort_logits = _ort_outputs(path, test_pixels.numpy())
    difference = float(max(np.abs(torch_probabilities - ort_probabilities).max(initial=0),
                           np.abs(torch_logits - ort_logits).max(initial=0) / max(1.0, np.abs(torch_logits).max(initial=1))))
    print(f"parity: onnxruntime (Python) vs PyTorch on {len(test_pixels)} test images: max |diff| {difference:.2e}", flush=True)
    if not difference <= PARITY_TOLERANCE:
        raise SystemExit(f"error: exported model disagrees with PyTorch by {difference:.2e} (> {PARITY_TOLERANCE})")

    reference = {
        "indices": job["split"]["test"],
        "probabilities": torch_probabilities.astype(float).round(8).tolist(),
        "onnxruntime_python_max_abs_diff": difference,
        "size_bytes": os.path.getsize(path),
    }
    if job.get("quantize"):
        reference["quantized"] = quantize(path, test_pixels.numpy(), calibration_pixels.numpy(), job, classes)
    with open(os.path.join(job["work"], "reference.json"), "w") as fh:
        json.dump(reference, fh)
    return reference


def quantize(path: str, test_pixels: np.ndarray, calibration: np.ndarray, job: dict, classes: list[str]) -> dict:
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
    probabilities, _ = _ort_outputs(out, test_pixels)
    labels = np.asarray(job["labels"])[np.asarray(job["split"]["test"])]
    summary = summarise(probabilities, labels, classes)
    print(f"int8: {out} ({os.path.getsize(out)} bytes) test accuracy {summary['accuracy']:.4f}, macro-F1 {summary['macro_f1']:.4f}", flush=True)
    return {"path": os.path.basename(out), "size_bytes": os.path.getsize(out), "accuracy": summary["accuracy"],
            "macro_f1": summary["macro_f1"]}
