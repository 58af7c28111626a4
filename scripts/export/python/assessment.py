"""What the model says about how far to trust an answer: the out-of-distribution distance, the gate's
thresholds, split-conformal prediction sets, leave-one-kind-out refusal, and the shortcut probe."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def fit_mahalanobis(features: np.ndarray, shrinkage: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and whitening matrix W (Cholesky factor of the precision) of a shrunk covariance, so that
    |(f - mean) @ W| is the Mahalanobis distance. Shrinkage towards the mean variance keeps the precision
    well conditioned: d / (n + d) for n images of d features, at least 0.1 (0.1 for 5,000 images of 576)."""
    x = features.astype(np.float64)
    if shrinkage is None:
        shrinkage = float(np.clip(x.shape[1] / (x.shape[0] + x.shape[1]), 0.1, 1.0))
    mean = x.mean(0)
    cov = np.cov(x - mean, rowvar=False)
    target = np.trace(cov) / cov.shape[0]
    cov = (1 - shrinkage) * cov + shrinkage * target * np.eye(cov.shape[0])
    precision = np.linalg.inv(cov)
    precision = (precision + precision.T) / 2
    whitening = np.linalg.cholesky(precision)  # precision = L L^T, so |(f - m) @ L|^2 = (f-m)^T P (f-m)
    return mean.astype(np.float32), whitening.astype(np.float32)


def mahalanobis(features: np.ndarray, mean: np.ndarray, whitening: np.ndarray) -> np.ndarray:
    return np.sqrt((((features - mean) @ whitening) ** 2).sum(1))


def conformal_min_probability(probabilities: np.ndarray, labels: np.ndarray, classes: list[str], coverage: float,
                              fallback: tuple[np.ndarray, np.ndarray] | None = None, min_count: int = 20) -> dict:
    """Class-conditional split conformal (LAC): class k joins the set when p_k >= 1 - q_k, q_k the
    ceil((n_k + 1) * coverage) / n_k quantile of 1 - p_true over the calibration images of class k.
    Classes with fewer than `min_count` calibration images use `fallback` (probabilities, labels)."""
    out, counts = {}, {}
    for k, name in enumerate(classes):
        scores = 1 - probabilities[labels == k, k]
        if len(scores) < min_count and fallback is not None:
            scores = 1 - fallback[0][fallback[1] == k, k]
        n = len(scores)
        counts[name] = int(n)
        if n == 0:
            out[name] = 0.0
            continue
        level = min(1.0, np.ceil((n + 1) * coverage) / n)
        q = float(np.quantile(scores, level, method="higher"))
        out[name] = round(max(0.0, 1 - q), 6)
    return {"min_probability": out, "calibration_images": counts}


# The share of validation chest X-rays the gate alone may refuse (the distance refuses another 0.2 %).
GATE_QUANTILE = 0.003
# The most certainty the gate may demand. Where the gate is sure of nearly every chest X-ray, the 0.3 % quantile
# lands inside the bulk of them: with screenshots of films among the negatives (2026-12-07 trial) it was 0.988, and
# the test split's chest X-rays refused rose from 0.62 % (at 0.95) to 1.00 % (0.37 % without those negatives) for
# no negative of the test split refused that 0.95 let through.
GATE_THRESHOLD_MAX = 0.95


def gate_threshold(chest_scores: np.ndarray, quantile: float) -> float:
    """The gate's accept threshold: the `quantile` of validation chest X-rays' frontal-chest-X-ray probability, so
    that the gate alone refuses about that fraction of them; at least 0.05 (a gate that trusts nothing cannot refuse
    everything), at most GATE_THRESHOLD_MAX. Until 2026-12-07 it was capped at 0.5, which let through images the
    gate thought only a little more likely frontal than not (tiled films, some lateral views) at no saving in chest
    X-rays refused; then briefly at 0.99, which let a quantile in the bulk of chest X-rays refuse too many."""
    return float(np.clip(np.quantile(chest_scores, quantile), 0.05, GATE_THRESHOLD_MAX))


def prediction_sets(probabilities: np.ndarray, min_probability: np.ndarray) -> np.ndarray:
    """[N, K] booleans; an empty set becomes the most probable class (the Worker does the same)."""
    sets = probabilities >= min_probability[None, :]
    empty = ~sets.any(1)
    sets[empty, probabilities[empty].argmax(1)] = True
    return sets


def fit_linear(x: np.ndarray, y: np.ndarray, classes: int, steps: int = 300, weight_decay: float = 1e-3,
               sample_weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Multinomial logistic regression on standardised features. Returns (W, b, mu, sd)."""
    # Near-constant columns get the average spread, not 1e-6, and values are clipped: otherwise a held-out row
    # can sit at 1e6 standard deviations and overflow the line search.
    mu, sd = x.mean(0), x.std(0)
    sd = sd + 1e-3 * (sd.mean() + 1e-12)
    xt = torch.from_numpy(np.clip((x - mu) / sd, -20, 20).astype(np.float32))
    yt = torch.from_numpy(y.astype(np.int64))
    wt = torch.from_numpy((sample_weight if sample_weight is not None else np.ones(len(y))).astype(np.float32))
    layer = torch.nn.Linear(x.shape[1], classes)
    # From zero, not a random start: the problem is convex, and 150-300 Adam steps do not fully converge, so a
    # random start made the leave-one-kind-out figures move by a few points with the global RNG's state.
    torch.nn.init.zeros_(layer.weight)
    torch.nn.init.zeros_(layer.bias)
    # Full-batch Adam with a fixed number of steps: L-BFGS's line search overflowed on separable data.
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        loss = (F.cross_entropy(layer(xt), yt, reduction="none") * wt).sum() / wt.sum() + weight_decay * layer.weight.square().sum()
        loss.backward()
        opt.step()
    return layer.weight.detach().numpy(), layer.bias.detach().numpy(), mu, sd


def predict_linear(x: np.ndarray, params) -> np.ndarray:
    w, b, mu, sd = params
    z = np.clip((x - mu) / sd, -20, 20) @ w.T + b
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def probe(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> dict:
    """Cross-validated accuracy of a linear probe predicting `y` from `x`, against the majority class."""
    names, codes = np.unique(y, return_inverse=True)
    if len(names) < 2:
        return {"accuracy": None, "majority": 1.0, "classes": len(names), "images": int(len(y))}
    order = np.random.default_rng(seed).permutation(len(y))
    correct = 0
    for f in range(folds):
        test = order[f::folds]
        train = np.setdiff1d(order, test)
        counts = np.bincount(codes[train], minlength=len(names))
        weight = 1.0 / np.maximum(counts[codes[train]], 1)
        params = fit_linear(x[train], codes[train], len(names), steps=100, sample_weight=weight)
        correct += int((predict_linear(x[test], params).argmax(1) == codes[test]).sum())
    majority = np.bincount(codes).max() / len(codes)
    return {"accuracy": round(correct / len(y), 4), "majority": round(float(majority), 4), "classes": int(len(names)),
            "images": int(len(y))}


def image_statistics(pixels: np.ndarray, original_sizes: np.ndarray) -> np.ndarray:
    """Trivial statistics a shortcut could use: stored size and aspect, border and centre brightness,
    mean, contrast, saturation, and how smooth the image is (upscaled images are)."""
    x = pixels.astype(np.float32)
    border = np.concatenate([x[:, :8].reshape(len(x), -1), x[:, -8:].reshape(len(x), -1),
                             x[:, :, :8].reshape(len(x), -1), x[:, :, -8:].reshape(len(x), -1)], 1)
    centre = x[:, 64:192, 64:192].reshape(len(x), -1)
    flat = x.reshape(len(x), -1)
    gradient = np.abs(np.diff(x, axis=2)).mean((1, 2))
    w, h = original_sizes[:, 0].astype(np.float32), original_sizes[:, 1].astype(np.float32)
    return np.stack([w, h, w / np.maximum(h, 1), border.mean(1), border.std(1), centre.mean(1), flat.mean(1),
                     flat.std(1), (flat <= 2).mean(1), (flat >= 253).mean(1), gradient], 1)
