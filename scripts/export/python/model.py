"""The classifier: a MobileNet backbone with the original Keras project's head, and the exportable
wrapper that takes raw 0..255 luminance and does the backbone's normalisation inside the graph."""
from __future__ import annotations

import torch
from torch import nn
from torchvision import models

ARCHITECTURES = ("mobilenet_v3_small", "mobilenet_v3_small_dw3", "mobilenet_v3_large", "mobilenet_v2")

# MobileNetV3-Small with its eight 5x5 depthwise convolutions made 3x3 (the pretrained kernels' centres). On the
# Worker's backend every depthwise convolution is an im2col + GEMM whose cost grows with the kernel's area: the whole
# network took 13.5 ms against 18.2 in onnxruntime-web (WASM SIMD, one thread), 4.2 against 4.5 natively.
SHRUNK_DEPTHWISE = {"mobilenet_v3_small_dw3": "mobilenet_v3_small"}

# How each backbone's ImageNet weights expect their input (see ../shared/pretrained/README.md).
# (scale, offset) per RGB channel: x_normalised = x_0_255 * scale + offset.
_MINUS_ONE_TO_ONE = ([1 / 127.5] * 3, [-1.0] * 3)
_IMAGENET = (
    [1 / (255 * s) for s in (0.229, 0.224, 0.225)],
    [-m / s for m, s in zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))],
)
NORMALISATION = {
    "mobilenet_v3_small": _MINUS_ONE_TO_ONE,
    "mobilenet_v3_small_dw3": _MINUS_ONE_TO_ONE,
    "mobilenet_v3_large": _MINUS_ONE_TO_ONE,
    "mobilenet_v2": _IMAGENET,
}


def build_backbone(arch: str) -> tuple[nn.Module, int]:
    """Returns torchvision's full model (so pretrained state dicts load strictly) and its feature width."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}")
    base = SHRUNK_DEPTHWISE.get(arch, arch)
    net = getattr(models, base)(weights=None)
    if arch in SHRUNK_DEPTHWISE:
        for conv in depthwise_convolutions(net, 5):
            conv.kernel_size, conv.padding = (3, 3), (1, 1)
            conv.weight = nn.Parameter(centre_3x3(conv.weight.detach()))
    channels = {"mobilenet_v3_small": 576, "mobilenet_v3_large": 960, "mobilenet_v2": 1280}[base]
    return net, channels


def depthwise_convolutions(net: nn.Module, size: int) -> list[nn.Conv2d]:
    """The depthwise (one filter per channel) convolutions of `net` with `size` x `size` kernels."""
    return [m for m in net.modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1 and m.kernel_size == (size, size)]


def centre_3x3(weight: torch.Tensor) -> torch.Tensor:
    """The centre 3x3 taps of [C, 1, 5, 5] kernels: with padding 1 instead of 2 the output keeps its size and
    alignment, and fine-tuning starts from what the pretrained filter does near its centre."""
    return weight[:, :, 1:4, 1:4].contiguous()


def load_pretrained(net: nn.Module, arch: str, path: str) -> str:
    """Loads ImageNet weights strictly; raises ValueError naming the mismatch when they do not fit."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(f"{path} is not a PyTorch state dict")
    expected = net.state_dict()
    if arch in SHRUNK_DEPTHWISE:  # the base network's ImageNet weights, their 5x5 depthwise kernels cut to 3x3
        state = {k: centre_3x3(v) if k in expected and v.shape[1:] == (1, 5, 5) and expected[k].shape[2:] == (3, 3) else v
                 for k, v in state.items()}
    # Checked before loading: load_state_dict raises its own RuntimeError on a tensor of the wrong shape.
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [k for k, v in state.items() if k in expected and expected[k].shape != v.shape]
    if missing or wrong_shape or not any(k.startswith("features.") for k in state):
        raise ValueError(
            f"{path} does not fit {arch}: {len(missing)} missing keys (e.g. {', '.join(missing[:3]) or 'none'}), "
            f"{len(unexpected)} unexpected, {len(wrong_shape)} with the wrong shape"
        )
    net.load_state_dict(state, strict=False)
    return path


class Head(nn.Module):
    """Global max pooling -> Dense(256, ReLU) -> BatchNorm -> Dropout(0.45) -> Dense(classes)."""

    def __init__(self, channels: int, classes: int):
        super().__init__()
        self.dense = nn.Linear(channels, 256)
        self.norm = nn.BatchNorm1d(256)
        self.dropout = nn.Dropout(0.45)
        self.out = nn.Linear(256, classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = torch.amax(features, dim=(2, 3))
        return self.out(self.dropout(self.norm(torch.relu(self.dense(pooled)))))


class Classifier(nn.Module):
    """Input [N, 1, S, S] luminance 0..255. Returns (logits, features); `assess` also returns the gate's
    logits and the two average-pooled feature sets that the out-of-distribution distance is measured on."""

    def __init__(self, arch: str, classes: int, gate_kinds: int = 0):
        super().__init__()
        self.arch = arch
        net, channels = build_backbone(arch)
        self.imagenet = net  # kept whole for strict pretrained loading; only .features is used
        self.head = Head(channels, classes)
        # "What kind of image is this?" from max- and average-pooled features: a linear layer, well under 1 ms.
        self.gate = nn.Linear(2 * channels, gate_kinds) if gate_kinds else None
        scale, offset = NORMALISATION[arch]
        self.register_buffer("scale", torch.tensor(scale).view(1, 3, 1, 1))
        self.register_buffer("offset", torch.tensor(offset).view(1, 3, 1, 1))

    @property
    def backbone(self) -> nn.Module:
        return self.imagenet.features

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, features, _ = self.stages(image)
        return logits, features

    def stages(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(logits, last feature maps, the feature maps before the backbone's last layer). The backbone's last
        layer is a 1x1 convolution that widens the last block's output (96 -> 576 channels on V3-Small); the
        distance also looks at that narrower, less class-shaped output (see Exportable)."""
        x = image.expand(-1, 3, -1, -1) * self.scale + self.offset
        middle = self.backbone[:-1](x)
        features = self.backbone[-1](middle)
        return self.head(features), features, middle

    def assess(self, image: torch.Tensor):
        """(logits, gate logits, average-pooled features, max-pooled features, average-pooled feature maps
        before the backbone's last layer)."""
        logits, features, middle = self.stages(image)
        pooled_max = torch.amax(features, dim=(2, 3))
        pooled_mean = features.mean(dim=(2, 3))
        return logits, self.gate(torch.cat([pooled_max, pooled_mean], 1)), pooled_mean, pooled_max, middle.mean(dim=(2, 3))


class OodPart(nn.Module):
    """One feature set's Mahalanobis distance to the training chest X-rays, divided by its `scale` (the 0.99
    quantile of validation chest X-rays): sqrt(|(f - mean) @ whitening|^2) / scale, whitening a Cholesky factor
    of the precision."""

    def __init__(self, mean: torch.Tensor, whitening: torch.Tensor, scale: float):
        super().__init__()
        self.register_buffer("mean", mean.float().view(1, -1))
        self.register_buffer("whitening", whitening.float())
        self.register_buffer("inverse_scale", torch.tensor(1.0 / scale))

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(((pooled - self.mean) @ self.whitening).square().sum(dim=1)) * self.inverse_scale


class Exportable(nn.Module):
    """What goes into model.onnx: calibrated probabilities, raw logits and the last feature maps; with a
    gate, also the gate's probabilities and the out-of-distribution distance: the larger of two scaled
    Mahalanobis distances to the training chest X-rays, of the average-pooled last features (`ood_final`) and of
    the average-pooled maps before the backbone's last layer (`ood_middle`). Each alone misses images the other
    catches: inverted films sit close to chest X-rays in the last features, lateral views in the earlier ones."""

    def __init__(self, model: Classifier, temperature: float, ood_final: OodPart | None = None,
                 ood_middle: OodPart | None = None):
        super().__init__()
        self.model = model
        self.register_buffer("inverse_temperature", torch.tensor(1.0 / temperature))
        if model.gate is not None and (ood_final is None) != (ood_middle is None):
            raise ValueError("the distance needs both parts (ood_final and ood_middle), or neither")
        self.with_assessment = model.gate is not None and ood_final is not None
        if self.with_assessment:
            self.ood_final, self.ood_middle = ood_final, ood_middle

    def forward(self, image: torch.Tensor):
        if not self.with_assessment:
            logits, features = self.model(image)
            return torch.softmax(logits * self.inverse_temperature, dim=1), logits, features
        logits, features, middle = self.model.stages(image)
        pooled_max = torch.amax(features, dim=(2, 3))
        pooled_mean = features.mean(dim=(2, 3))
        gate = torch.softmax(self.model.gate(torch.cat([pooled_max, pooled_mean], 1)), dim=1)
        distance = torch.maximum(self.ood_final(pooled_mean), self.ood_middle(middle.mean(dim=(2, 3))))
        probabilities = torch.softmax(logits * self.inverse_temperature, dim=1)
        return probabilities, logits, features, gate, distance
