"""Trains, calibrates, evaluates and exports the classifier described by a job file that the Node
command (scripts/export/cli.ts) writes. The images arrive already preprocessed by the Worker's own
TypeScript code, as a raw uint8 array [N, S, S]; nothing here decodes or resizes an image."""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(__file__))
from metrics import expected_calibration_error, fit_temperature, softmax, summarise  # noqa: E402
from model import Classifier, Exportable, load_pretrained  # noqa: E402
import report  # noqa: E402
import export_onnx  # noqa: E402


def log(message: str) -> None:
    print(message, flush=True)


def pick_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda was asked for, but PyTorch sees no CUDA device")
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        return torch.device("cpu")
    torch.backends.cudnn.benchmark = True
    return torch.device("cuda")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def augment(x: torch.Tensor, generator: torch.Generator, robust: bool = False) -> torch.Tensor:
    """Small rotations (+-7 deg), shifts (+-5 %), scale (0.9-1.1), brightness and contrast, on 0..255 tensors.
    `robust` adds gamma, blur or sharpening, and sensor noise: stand-ins for what differs between the
    training sources (mostly small, soft images) and real uploads (large, sharper, other scanners)."""
    n = x.shape[0]
    dev = x.device

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return (torch.rand(n, generator=generator) * (hi - lo) + lo).to(dev)

    angle = uniform(-7, 7) * math.pi / 180
    scale = uniform(0.9, 1.1)
    tx, ty = uniform(-0.1, 0.1), uniform(-0.1, 0.1)  # affine_grid units: 0.1 = 5 % of the side
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    contrast = uniform(0.85, 1.15).view(n, 1, 1, 1)
    brightness = uniform(-20, 20).view(n, 1, 1, 1)
    mean = x.mean(dim=(2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + brightness).clamp(0, 255)
    if not robust:
        return x
    gamma = torch.exp(uniform(-0.22, 0.22)).view(n, 1, 1, 1)  # gamma 0.8 .. 1.25
    x = 255 * (x / 255).clamp(min=1e-6) ** gamma
    # One blur kernel per batch; per image, amount < 0 blurs and amount > 0 sharpens (unsharp mask).
    sigma = float(torch.rand(1, generator=generator)) * 1.0 + 0.4
    taps = torch.arange(-2, 3, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).to(dev)
    blurred = F.conv2d(F.pad(x, (2, 2, 0, 0), mode="replicate"), kernel.view(1, 1, 1, 5))
    blurred = F.conv2d(F.pad(blurred, (0, 0, 2, 2), mode="replicate"), kernel.view(1, 1, 5, 1))
    amount = uniform(-0.8, 1.0).view(n, 1, 1, 1)
    x = x + amount * (x - blurred)
    noise = uniform(0, 5).view(n, 1, 1, 1) * torch.randn(x.shape, generator=generator).to(dev)
    return (x + noise).clamp(0, 255)


class Progress:
    """One self-updating line per epoch (ETA, loss, accuracy); sparse updates when not on a terminal."""

    def __init__(self, label: str, total: int):
        self.label, self.total, self.start, self.last = label, total, time.time(), 0.0
        self.tty = sys.stderr.isatty()

    def update(self, done: int, loss: float, acc: float) -> None:
        now = time.time()
        if done < self.total and now - self.last < (0.5 if self.tty else 30):
            return
        self.last = now
        elapsed = now - self.start
        eta = elapsed / max(done, 1) * (self.total - done)
        width = 24
        bar = "#" * int(width * done / self.total) + "-" * (width - int(width * done / self.total))
        line = f"{self.label} [{bar}] {done}/{self.total} loss {loss:.4f} acc {acc:.4f} ETA {eta:4.0f}s"
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        if done >= self.total and self.tty:
            sys.stderr.write("\n")
        sys.stderr.flush()


def make_optimizer(model: Classifier, recipe: str, epochs: int, steps_per_epoch: int):
    head_decay = [model.head.dense.weight]  # Keras's L2 on the Dense(256) kernel
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    head = [p for n, p in model.head.named_parameters() if n != "dense.weight"]
    if recipe == "original":
        # The original Keras recipe: SGD, lr 0.1, divided by 10 every 6 epochs.
        opt = torch.optim.SGD([{"params": backbone + head}, {"params": head_decay, "weight_decay": 1e-3}], lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=6 * steps_per_epoch, gamma=0.1)
    elif recipe == "adamw":
        # A gentler rate for the pretrained backbone than for the new head (1e-3 everywhere diverged in epoch 2).
        opt = torch.optim.AdamW([
            {"params": backbone, "lr": 3e-4, "weight_decay": 1e-4},
            {"params": head, "lr": 1e-3, "weight_decay": 1e-4},
            {"params": head_decay, "lr": 1e-3, "weight_decay": 1e-2},
        ])
        total = max(1, epochs * steps_per_epoch)
        warmup = min(steps_per_epoch, total // 10 + 1)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, total - warmup)))
        )
    else:
        raise SystemExit(f"error: unknown recipe {recipe!r}")
    return opt, sched


def freeze_backbone_batchnorm(model: Classifier) -> None:
    # The provided ImageNet weights have BatchNorm folded (identity statistics): batch statistics would
    # change what the pretrained layers compute, so their BatchNorm stays in eval mode.
    for module in model.backbone.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.eval()


@torch.no_grad()
def predict(model: Classifier, pixels: torch.Tensor, indices: np.ndarray, device, batch: int, amp: bool) -> np.ndarray:
    model.eval()
    out = []
    for start in range(0, len(indices), batch):
        idx = torch.from_numpy(indices[start : start + batch]).to(pixels.device)
        x = pixels.index_select(0, idx).to(device, non_blocking=True).unsqueeze(1).float()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits, _ = model(x)
        out.append(logits.float().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.head.out.out_features), np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("job", help="job.json written by scripts/export/cli.ts")
    job = json.load(open(parser.parse_args().job))
    classes: list[str] = job["classes"]
    seed_everything(job["seed"])
    device = pick_device(job["device"])
    amp = device.type == "cuda"
    log(f"device: {device}" + (f" ({torch.cuda.get_device_name(0)}, bf16 autocast)" if amp else f" ({torch.get_num_threads()} threads)"))

    size = job["input_size"]
    host = torch.from_numpy(np.fromfile(job["pixels"], dtype=np.uint8).reshape(-1, size, size))
    pixels = host.pin_memory().to(device, non_blocking=True) if amp else host
    labels_np = np.asarray(job["labels"], dtype=np.int64)
    labels = torch.from_numpy(labels_np).to(device)
    split = {k: np.asarray(v, dtype=np.int64) for k, v in job["split"].items()}

    model = Classifier(job["arch"], len(classes))
    if job.get("pretrained"):
        try:
            load_pretrained(model.imagenet, job["arch"], job["pretrained"])
        except ValueError as error:
            raise SystemExit(f"error: --pretrained {error}") from None
        log(f"pretrained: {job['pretrained']}")
    model.to(device)

    counts = np.bincount(labels_np[split["train"]], minlength=len(classes)).astype(np.float64)
    class_weights = torch.tensor(counts.sum() / (len(classes) * np.maximum(counts, 1)), dtype=torch.float32, device=device)
    log("class weights (inverse frequency): " + ", ".join(f"{c} {w:.2f}" for c, w in zip(classes, class_weights.tolist())))

    batch = job["batch_size"]
    steps = math.ceil(len(split["train"]) / batch)
    optimizer, scheduler = make_optimizer(model, job["recipe"], job["epochs"], steps)
    generator = torch.Generator().manual_seed(job["seed"])
    history: list[dict] = []
    best = {"score": -1.0, "epoch": 0, "state": None}
    first_epoch = 1
    checkpoint_path = os.path.join(job["work"], "checkpoint.pt")
    if job.get("resume") and os.path.exists(checkpoint_path):
        ckpt = torch.load(checkpoint_path, map_location=device, weights_only=False)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        generator.set_state(ckpt["generator"])
        history, best, first_epoch = ckpt["history"], ckpt["best"], ckpt["epoch"] + 1
        log(f"resumed from {checkpoint_path} after epoch {ckpt['epoch']}")

    # Training time accumulates across resumed runs (each history row records it).
    started = time.time() - (history[-1]["seconds"] if history else 0.0)
    for epoch in range(first_epoch, job["epochs"] + 1):
        model.train()
        freeze_backbone_batchnorm(model)
        order = split["train"][torch.randperm(len(split["train"]), generator=generator).numpy()]
        progress = Progress(f"epoch {epoch}/{job['epochs']}", len(order))
        seen = correct = 0
        loss_sum = 0.0
        for start in range(0, len(order), batch):
            idx = torch.from_numpy(order[start : start + batch]).to(pixels.device)
            if len(idx) < 2:
                continue  # BatchNorm1d needs two samples
            x = pixels.index_select(0, idx).to(device, non_blocking=True).unsqueeze(1).float()
            y = labels.index_select(0, idx.to(device))
            x = augment(x, generator, robust=job.get("augment") == "robust")
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits, _ = model(x)
                loss = F.cross_entropy(logits.float(), y, weight=class_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            seen += len(idx)
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == y).sum().item()
            progress.update(seen, loss_sum / seen, correct / seen)

        val_logits = predict(model, pixels, split["val"], device, batch * 2, amp)
        val_labels = labels_np[split["val"]]
        val_loss = float(F.cross_entropy(torch.from_numpy(val_logits), torch.from_numpy(val_labels), weight=class_weights.cpu()))
        val_summary = summarise(softmax(val_logits), val_labels, classes)
        row = {
            "epoch": epoch,
            "train_loss": round(loss_sum / max(seen, 1), 5),
            "train_accuracy": round(correct / max(seen, 1), 5),
            "val_loss": round(val_loss, 5),
            "val_accuracy": val_summary["accuracy"],
            "val_macro_f1": val_summary["macro_f1"],
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(time.time() - started, 1),
        }
        history.append(row)
        log(
            f"epoch {epoch}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f} | "
            f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.4f} macro-F1 {row['val_macro_f1']:.4f}"
        )
        if val_summary["macro_f1"] > best["score"]:
            best = {"score": val_summary["macro_f1"], "epoch": epoch,
                    "state": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}}
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "generator": generator.get_state(), "history": history, "best": best, "epoch": epoch}, checkpoint_path)

    duration = time.time() - started
    model.load_state_dict(best["state"])
    log(f"best epoch by validation macro-F1: {best['epoch']} ({best['score']:.4f})")

    # Calibration on validation, evaluation on test (test is used for nothing else).
    # float32 from here on, so the figures describe exactly what is exported.
    val_logits = predict(model, pixels, split["val"], device, batch * 2, False)
    temperature = fit_temperature(val_logits, labels_np[split["val"]])
    test_logits = predict(model, pixels, split["test"], device, batch * 2, False)
    test_labels = labels_np[split["test"]]
    raw, calibrated = softmax(test_logits), softmax(test_logits, temperature)
    metrics = summarise(calibrated, test_labels, classes)
    metrics["split"] = "test"
    metrics["ece_before_temperature"] = round(expected_calibration_error(raw, test_labels), 4)
    metrics["ece_after_temperature"] = round(expected_calibration_error(calibrated, test_labels), 4)
    metrics["validation"] = summarise(softmax(val_logits, temperature), labels_np[split["val"]], classes)
    metrics["validation"].pop("confusion_matrix")
    log(f"temperature {temperature:.3f}; test accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f}, "
        f"ECE {metrics['ece_before_temperature']:.4f} -> {metrics['ece_after_temperature']:.4f}")

    training = dict(job["training_summary"])
    training.update({"architecture": job["arch"], "pretrained": os.path.basename(job["pretrained"]) if job.get("pretrained") else None,
                     "epochs": job["epochs"], "best_epoch": best["epoch"], "batch_size": batch, "recipe": job["recipe"],
                     "augment": job.get("augment", "basic"),
                     "seed": job["seed"], "device": str(device) + (f" ({torch.cuda.get_device_name(0)})" if amp else ""),
                     "duration_seconds": round(duration, 1), "torch": torch.__version__, "history": history})

    model.cpu().eval()
    exportable = Exportable(model, temperature).eval()
    test_pixels = host.index_select(0, torch.from_numpy(split["test"])).unsqueeze(1).float()
    calibration_pixels = host.index_select(0, torch.from_numpy(split["val"][:200])).unsqueeze(1).float()
    reference = export_onnx.export(exportable, job, classes, temperature, metrics, training, test_pixels, calibration_pixels)
    report.write_all(job, classes, temperature, metrics, training, reference)
    return 0


if __name__ == "__main__":
    sys.exit(main())
