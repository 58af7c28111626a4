"""Reference Grad-CAM maps by PyTorch autograd, for checking the Worker's own computation.

The backbone runs in onnxruntime (its `features` output); the head is rebuilt as the training code's
own torch module with the weights read from the ONNX file, and Grad-CAM is computed the textbook way:
alpha_k = mean over the map of d logit_c / d A_k (autograd), map = ReLU(sum_k alpha_k A_k) / max.

Usage: python gradcam_reference.py MODEL.onnx PIXELS.u8 COUNT OUT.json [CLASS_INDEX ...]
(PIXELS.u8: COUNT raw uint8 images of input_size^2, from the TypeScript preprocessing; without class
indices, each image's predicted class is explained.)"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(__file__))
from model import Head  # noqa: E402


def main() -> int:
    model_path, pixels_path, count, out_path, *wanted = sys.argv[1:]
    model = onnx.load(model_path)
    meta = {p.key: p.value for p in model.metadata_props}
    head_spec = json.loads(meta["head"])
    size = int(meta["input_size"])
    weights = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in model.graph.initializer}

    pixels = np.fromfile(pixels_path, dtype=np.uint8).reshape(int(count), 1, size, size).astype(np.float32)
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    features, ort_logits = session.run(["features", "logits"], {"image": pixels})

    dense_w = weights[head_spec["dense"]["weight"]]
    head = Head(dense_w.shape[1], weights[head_spec["out"]["weight"]].shape[0])
    head.dense.weight.data, head.dense.bias.data = dense_w, weights[head_spec["dense"]["bias"]]
    norm = head_spec["norm"]
    head.norm.weight.data, head.norm.bias.data = weights[norm["weight"]], weights[norm["bias"]]
    head.norm.running_mean.data, head.norm.running_var.data = weights[norm["mean"]], weights[norm["var"]]
    head.norm.eps = norm["epsilon"]
    head.out.weight.data, head.out.bias.data = weights[head_spec["out"]["weight"]], weights[head_spec["out"]["bias"]]
    head.eval()

    maps, classes = [], []
    for n in range(len(pixels)):
        activations = torch.from_numpy(features[n : n + 1]).requires_grad_(True)
        logits = head(activations)
        if not np.allclose(logits.detach().numpy(), ort_logits[n : n + 1], atol=1e-3):
            raise SystemExit("error: the rebuilt head does not reproduce the model's logits")
        c = int(wanted[n]) if wanted else int(logits.argmax())
        (gradients,) = torch.autograd.grad(logits[0, c], activations)
        alpha = gradients.mean(dim=(2, 3), keepdim=True)
        cam = torch.relu((alpha * activations).sum(dim=1))[0].detach()
        cam = cam / cam.max() if cam.max() > 0 else cam
        maps.append(cam.numpy().round(6).tolist())
        classes.append(c)
    with open(out_path, "w") as fh:
        json.dump({"classes": classes, "maps": maps}, fh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
