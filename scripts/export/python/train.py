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
from model import Classifier, Exportable, OodPart, load_pretrained  # noqa: E402
from augment import augment  # noqa: E402
import assessment as A  # noqa: E402
import operating_points as OP  # noqa: E402
import report  # noqa: E402
import export_onnx  # noqa: E402


# Each part of the out-of-distribution distance is divided by this quantile of its validation chest X-rays.
OOD_PART_SCALE_QUANTILE = 0.99
# The distance's parts, in Exportable's order (ood_final, ood_middle): embed()'s key, and the name the metadata gives.
OOD_FEATURES = (("mean", "average-pooled last features"),
                ("middle", "average-pooled feature maps before the backbone's last layer"))


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


def training_memory_format(device: torch.device) -> torch.memory_format:
    """NHWC on the CPU, where oneDNN runs this network's convolutions (the depthwise ones above all) faster
    in it: forward, backward and update of 64 images took 0.58 s against 0.96 s in NCHW (torch 2.11, 2 cores).
    CUDA keeps NCHW (not measured there). Training only: the model is back in NCHW before the figures and
    the export, so that they describe the graph that is exported."""
    return torch.channels_last if device.type == "cpu" else torch.contiguous_format


def training_model(arch: str, classes: int, gate_kinds: int, pretrained: str | None, frozen: int, device: torch.device) -> Classifier:
    """The classifier as training starts: ImageNet weights loaded, backbone blocks 0..frozen-1 frozen, on `device`
    in its training memory format."""
    model = Classifier(arch, classes, gate_kinds)
    if pretrained:
        try:
            load_pretrained(model.imagenet, arch, pretrained)
        except ValueError as error:
            raise SystemExit(f"error: --pretrained {error}") from None
        log(f"pretrained: {pretrained}")
    for index, block in enumerate(model.backbone):
        for p in block.parameters():
            p.requires_grad = index >= frozen
    if frozen:
        log(f"backbone blocks 0..{frozen - 1} frozen (ImageNet low-level filters)")
    return model.to(device, memory_format=training_memory_format(device))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


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
    head += list(model.gate.parameters()) if model.gate is not None else []
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
def embed(model: Classifier, pixels: torch.Tensor, indices: np.ndarray, device, batch: int, amp: bool) -> dict:
    """Logits, gate logits and pooled features of the given rows, unaugmented, in eval mode."""
    model.eval()
    parts = {"logits": [], "gate": [], "mean": [], "max": [], "middle": []}
    for start in range(0, len(indices), batch):
        idx = torch.from_numpy(indices[start : start + batch]).to(pixels.device)
        x = pixels.index_select(0, idx).to(device, non_blocking=True).unsqueeze(1).float()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            out = model.assess(x)
        for key, value in zip(parts, out):
            parts[key].append(value.float().cpu().numpy())
    return {k: np.concatenate(v) if v else np.zeros((0, 0), np.float32) for k, v in parts.items()}


def partial_nll(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """-log of the summed probability of the image's possible classes: ordinary cross-entropy for one
    class, and for a partial label (A or B) no pressure on which of them."""
    return (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~mask, float("-inf")), 1)).mean()


def sampling_weights(rows: list[dict], indices: np.ndarray) -> np.ndarray:
    """Chest X-rays: each class (a partial label counting as half a class) gets the same share, and within
    a class each (source, class) group gets a share proportional to the square root of its size, so that
    one big source cannot define a class. Negatives: each gate kind the same share, then each raw kind."""
    chest = [i for i in indices if rows[i]["gate"] == 0]
    negative = [i for i in indices if rows[i]["gate"] != 0]
    weights = np.zeros(len(rows))
    groups: dict[tuple, list[int]] = {}
    for i in chest:
        groups.setdefault((rows[i]["class_text"], rows[i]["source"]), []).append(i)
    by_class: dict[str, list[tuple]] = {}
    for key in groups:
        by_class.setdefault(key[0], []).append(key)
    for class_text, keys in by_class.items():
        share = 0.5 if "|" in class_text else 1.0
        total = sum(math.sqrt(len(groups[k])) for k in keys)
        for k in keys:
            weights[groups[k]] = share * math.sqrt(len(groups[k])) / total / len(groups[k])
    kinds: dict[int, dict[str, list[int]]] = {}
    for i in negative:
        kinds.setdefault(rows[i]["gate"], {}).setdefault(rows[i]["kind"], []).append(i)
    for gate, raw in kinds.items():
        for members in raw.values():
            weights[members] = 1.0 / len(kinds) / len(raw) / len(members)
    return weights


def split_figures(probabilities, labels_mask, sets, refused, flagged, classes, ece_fn) -> dict:
    """Accuracy, per-class sensitivity/specificity, ECE, prediction-set coverage and size, refusals and flags,
    on the accepted-or-not images of one split. Partial labels: whether the answer was one of their classes."""
    single = labels_mask.sum(1) == 1
    labels = labels_mask.argmax(1)
    out = summarise(probabilities[single], labels[single], classes) if single.any() else {"images": 0}
    if single.any():
        out["ece"] = round(ece_fn(probabilities[single], labels[single]), 4)
        covered = sets[single, labels[single]]
        out["prediction_set"] = {"coverage": round(float(covered.mean()), 4), "mean_size": round(float(sets[single].sum(1).mean()), 4),
                                 "singletons": round(float((sets[single].sum(1) == 1).mean()), 4)}
    out["false_refusals"] = round(float(refused.mean()), 4) if len(refused) else 0.0
    out["flagged_unlike_training"] = round(float(flagged.mean()), 4) if len(flagged) else 0.0
    out["abstain"] = round(float((flagged | (sets.sum(1) > 1)).mean()), 4) if len(flagged) else 0.0
    if (~single).any():
        top = probabilities[~single].argmax(1)
        out["partial_labels"] = {"images": int((~single).sum()),
                                 "answer_in_label": round(float(labels_mask[~single][np.arange((~single).sum()), top].mean()), 4)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("job", help="job.json written by scripts/export/cli.ts")
    job = json.load(open(parser.parse_args().job))
    classes: list[str] = job["classes"]
    gate_kinds: list[str] = job["gate"]["kinds"]
    seed_everything(job["seed"])
    device = pick_device(job["device"])
    amp = device.type == "cuda"
    log(f"device: {device}" + (f" ({torch.cuda.get_device_name(0)}, bf16 autocast)" if amp else f" ({torch.get_num_threads()} threads)"))

    size = job["input_size"]
    rows: list[dict] = job["rows"]
    host = torch.from_numpy(np.fromfile(job["pixels"], dtype=np.uint8).reshape(-1, size, size))
    pixels = host.pin_memory().to(device, non_blocking=True) if amp else host
    n, k = len(rows), len(classes)
    mask_np = np.zeros((n, k), dtype=bool)
    for i, r in enumerate(rows):
        mask_np[i, r["label_set"]] = True
    gate_np = np.asarray([r["gate"] for r in rows], dtype=np.int64)
    is_chest = gate_np == 0
    label_mask = torch.from_numpy(mask_np).to(device)
    gate_labels = torch.from_numpy(gate_np).to(device)
    split = {key: np.asarray(v, dtype=np.int64) for key, v in job["split"].items()}
    chest_of = lambda side: split[side][is_chest[split[side]]]  # noqa: E731
    negatives_of = lambda side: split[side][~is_chest[split[side]]]  # noqa: E731
    has_gate = (~is_chest).any()

    frozen = int(job.get("freeze_blocks") or 0)
    model = training_model(job["arch"], k, len(gate_kinds) if has_gate else 0, job.get("pretrained"), frozen, device)
    memory_format = training_memory_format(device)

    train_rows = split["train"]
    weights = sampling_weights(rows, train_rows)
    chest_train = chest_of("train")
    negative_train = negatives_of("train")
    batch = job["batch_size"]
    negative_batch = max(1, round(batch * 0.2)) if has_gate and len(negative_train) else 0
    chest_batch = batch - negative_batch
    epoch_samples = job.get("epoch_samples") or len(chest_train)
    steps = max(1, math.ceil(epoch_samples / chest_batch))
    log(f"sampling: {steps} steps an epoch of {chest_batch} chest X-rays (balanced over classes, then sqrt over sources)"
        + (f" + {negative_batch} negatives (balanced over gate kinds)" if negative_batch else ""))
    optimizer, scheduler = make_optimizer(model, job["recipe"], job["epochs"], steps)
    generator = torch.Generator().manual_seed(job["seed"])
    chest_weights = torch.from_numpy(weights[chest_train])
    negative_weights = torch.from_numpy(weights[negative_train]) if negative_batch else None
    ema = {key: v.detach().clone().float() for key, v in model.state_dict().items()}
    ema_decay = 1 - 1 / max(20.0, steps / 2)

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
        ema = ckpt["ema"]
        history, best, first_epoch = ckpt["history"], ckpt["best"], ckpt["epoch"] + 1
        log(f"resumed from {checkpoint_path} after epoch {ckpt['epoch']}")

    def selection_figures(state) -> dict:
        """Macro-F1 on the seen-source and the unseen-source validation sets (single labels only), and the
        gate's refusals at 0.5 on their chest X-rays and negatives: one pass over both sets."""
        live = {key: v.clone() for key, v in model.state_dict().items()}
        model.load_state_dict(state)
        idx = np.concatenate([split["val"], split.get("unseen_val", np.zeros(0, np.int64))])
        e = embed(model, pixels, idx, device, batch * 2, amp)
        model.load_state_dict(live)
        out = {}
        for side in ("val", "unseen_val"):
            chosen = np.isin(idx, split.get(side, [])) & is_chest[idx] & (mask_np[idx].sum(1) == 1)
            if not chosen.any():
                continue
            labels_side = mask_np[idx[chosen]].argmax(1)
            summary = summarise(softmax(e["logits"][chosen]), labels_side, classes)
            out[side] = {"accuracy": summary["accuracy"], "macro_f1": summary["macro_f1"],
                         "loss": float(F.cross_entropy(torch.from_numpy(e["logits"][chosen]), torch.from_numpy(labels_side)))}
        if has_gate:
            accept = softmax(e["gate"])[:, 0] >= 0.5
            chest = is_chest[idx]
            out["gate"] = {"chest_refused": round(float((~accept[chest]).mean()), 4) if chest.any() else 0.0,
                           "negatives_refused": round(float((~accept[~chest]).mean()), 4) if (~chest).any() else 1.0}
        return out

    started = time.time() - (history[-1]["seconds"] if history else 0.0)
    for epoch in range(first_epoch, job["epochs"] + 1):
        model.train()
        freeze_backbone_batchnorm(model)
        progress = Progress(f"epoch {epoch}/{job['epochs']}", steps * batch)
        seen = correct = 0
        loss_sum = 0.0
        for step in range(steps):
            picked = chest_train[torch.multinomial(chest_weights, chest_batch, replacement=True, generator=generator).numpy()]
            if negative_batch:
                picked = np.concatenate([picked, negative_train[torch.multinomial(negative_weights, negative_batch, replacement=True, generator=generator).numpy()]])
            idx = torch.from_numpy(picked).to(pixels.device)
            x = pixels.index_select(0, idx).to(device, non_blocking=True).unsqueeze(1).float()
            x = augment(x, generator, job.get("augment", "basic")).contiguous(memory_format=memory_format)
            chest = torch.from_numpy(is_chest[picked]).to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                if has_gate:
                    logits, gate_logits, *_ = model.assess(x)
                else:
                    logits, _ = model(x)
                loss = partial_nll(logits.float()[chest], label_mask.index_select(0, idx.to(device))[chest])
                if has_gate:
                    loss = loss + F.cross_entropy(gate_logits.float(), gate_labels.index_select(0, idx.to(device)))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            with torch.no_grad():
                for key, v in model.state_dict().items():
                    if v.dtype.is_floating_point:
                        ema[key].mul_(ema_decay).add_(v.detach().float(), alpha=1 - ema_decay)
                    else:
                        ema[key].copy_(v)
            m = int(chest.sum())
            seen += m
            loss_sum += loss.item() * m
            chest_np = chest.cpu().numpy()
            correct += int(mask_np[picked[chest_np], logits.detach().float()[chest].argmax(1).cpu().numpy()].sum())
            progress.update((step + 1) * batch, loss_sum / max(seen, 1), correct / max(seen, 1))

        figures = selection_figures(ema)
        score = float(np.mean([figures[s]["macro_f1"] for s in ("val", "unseen_val") if s in figures]))
        row = {
            "epoch": epoch,
            "train_loss": round(loss_sum / max(seen, 1), 5),
            "train_accuracy": round(correct / max(seen, 1), 5),
            "val_loss": round(figures["val"]["loss"], 5),
            "val_accuracy": figures["val"]["accuracy"],
            "val_macro_f1": figures["val"]["macro_f1"],
            "unseen_val_accuracy": figures.get("unseen_val", {}).get("accuracy"),
            "unseen_val_macro_f1": figures.get("unseen_val", {}).get("macro_f1"),
            "selection_score": round(score, 4),
            "gate": figures.get("gate"),
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": round(time.time() - started, 1),
        }
        history.append(row)
        log(f"epoch {epoch}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.4f} | val acc {row['val_accuracy']:.4f} "
            f"macro-F1 {row['val_macro_f1']:.4f} | unseen-source val acc {row['unseen_val_accuracy']} macro-F1 {row['unseen_val_macro_f1']}"
            + (f" | gate: chest refused {row['gate']['chest_refused']}, negatives refused {row['gate']['negatives_refused']}" if row["gate"] else ""))
        if score > best["score"]:
            best = {"score": score, "epoch": epoch, "state": {key: v.clone() for key, v in ema.items()}}
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "generator": generator.get_state(), "history": history, "best": best, "epoch": epoch, "ema": ema}, checkpoint_path)

    duration = time.time() - started
    model.load_state_dict(best["state"])
    log(f"best epoch (weight average) by mean validation macro-F1, seen and unseen sources: {best['epoch']} ({best['score']:.4f})")
    model.to("cpu", memory_format=torch.contiguous_format).eval()
    training = dict(job["training_summary"])
    training.update({"architecture": job["arch"], "pretrained": os.path.basename(job["pretrained"]) if job.get("pretrained") else None,
                     "epochs": job["epochs"], "best_epoch": best["epoch"], "batch_size": batch, "recipe": job["recipe"],
                     "augment": job.get("augment", "basic"), "epoch_samples": epoch_samples, "freeze_blocks": frozen,
                     "selection": "weight average (EMA) of the epoch with the best mean of seen- and unseen-source validation macro-F1",
                     "seed": job["seed"], "split_seed": job.get("split_seed", job["seed"]), "device": str(device) + (f" ({torch.cuda.get_device_name(0)})" if amp else ""),
                     "duration_seconds": round(duration, 1), "torch": torch.__version__, "history": history})
    return finish(job, model, host, rows, mask_np, gate_np, split, classes, gate_kinds, training)


def finish(job, model, host, rows, mask_np, gate_np, split, classes, gate_kinds, training) -> int:
    """Calibration, the gate's and the distance's thresholds, prediction sets, every figure, and the export.
    float32 on the CPU from here on, so the figures describe exactly what is exported."""
    cpu = torch.device("cpu")
    batch = job["batch_size"] * 2
    is_chest = gate_np == 0
    has_gate = model.gate is not None
    rng = np.random.default_rng(job["seed"])
    for side in ("unseen_val", "unseen_test"):
        split.setdefault(side, np.zeros(0, np.int64))
    chest_train = split["train"][is_chest[split["train"]]]
    reference = np.sort(rng.choice(chest_train, min(len(chest_train), 5000), replace=False))
    needed = np.unique(np.concatenate([reference, split["val"], split["test"], split["unseen_val"], split["unseen_test"],
                                       split["train"][~is_chest[split["train"]]]]))
    log(f"embedding {len(needed)} images (unaugmented) for calibration, thresholds and figures...")
    e = embed(model, host, needed, cpu, batch, False)
    at = lambda idx, key: e[key][np.searchsorted(needed, idx)]  # noqa: E731
    single = mask_np.sum(1) == 1
    labels_np = mask_np.argmax(1)

    # Temperature on the seen- and unseen-source validation images together: one T for both worlds.
    calibration = np.concatenate([split["val"], split["unseen_val"]])
    calibration_chest = calibration[is_chest[calibration]]
    cal_single = calibration_chest[single[calibration_chest]]
    temperature = fit_temperature(at(cal_single, "logits"), labels_np[cal_single])
    probabilities = lambda idx: softmax(at(idx, "logits"), temperature)  # noqa: E731

    assessment = None
    ood_parts: dict = {}
    if has_gate:
        # One Mahalanobis distance per feature set, each divided by its 0.99 quantile on validation chest X-rays;
        # the distance is the larger of the two (see model.Exportable for why two).
        for key, _ in OOD_FEATURES:
            m, w = A.fit_mahalanobis(at(reference, key))
            ood_parts[key] = (m, w, float(np.quantile(A.mahalanobis(at(calibration_chest, key), m, w), OOD_PART_SCALE_QUANTILE)))
        distance = lambda idx: np.max(np.stack([A.mahalanobis(at(idx, key), m, w) / scale for key, (m, w, scale) in ood_parts.items()]), 0)  # noqa: E731
        accept = lambda idx: softmax(at(idx, "gate"))[:, 0]  # noqa: E731
        cal_distance = distance(calibration_chest)
        flag_q, refuse_q, gate_q = 0.99, job.get("refuse_quantile", 0.998), A.GATE_QUANTILE
        flag_above = float(np.quantile(cal_distance, flag_q))
        refuse_above = float(max(np.quantile(cal_distance, refuse_q), flag_above))
        gate_threshold = A.gate_threshold(accept(calibration_chest), gate_q)
        gate_quantile_value = float(np.quantile(accept(calibration_chest), gate_q))  # before the bounds, for the card
        refused = lambda idx: (accept(idx) < gate_threshold) | (distance(idx) > refuse_above)  # noqa: E731
        flagged = lambda idx: distance(idx) > flag_above  # noqa: E731
        # Prediction sets: class-conditional split conformal on the unseen-source validation images.
        unseen_cal = split["unseen_val"][is_chest[split["unseen_val"]] & single[split["unseen_val"]]]
        seen_cal = split["val"][is_chest[split["val"]] & single[split["val"]]]
        # Seen- and unseen-source validation images together: calibrated on either alone, the sets under-cover
        # the other (the first CPU run: 85 % on seen sources with unseen-only thresholds).
        both_cal = np.concatenate([seen_cal, unseen_cal])
        conformal = A.conformal_min_probability(probabilities(both_cal), labels_np[both_cal], classes, job["coverage"])
        assessment = {
            "gate": {"output": "gate_probabilities", "kinds": gate_kinds, "accept": job["gate"]["accept"], "threshold": round(gate_threshold, 6),
                     "threshold_quantile": gate_q, "threshold_quantile_value": round(gate_quantile_value, 6), "threshold_max": A.GATE_THRESHOLD_MAX,
                     "descriptions": job["gate"]["descriptions"]},
            "ood": {"output": "ood_distance", "flag_above": round(flag_above, 4), "refuse_above": round(refuse_above, 4),
                    "flag_quantile": flag_q, "refuse_quantile": refuse_q,
                    "description": "the larger of two Mahalanobis distances to training chest X-rays (of the average-pooled last "
                                   "features, and of the average-pooled feature maps before the backbone's last layer), each divided "
                                   f"by its {OOD_PART_SCALE_QUANTILE} quantile on validation chest X-rays, so 1 is the edge of the "
                                   "typical; thresholds are quantiles of validation chest X-rays (seen and unseen sources)",
                    "parts": [{"features": name, "dimensions": int(ood_parts[key][0].shape[0]), "scale": round(ood_parts[key][2], 4)}
                              for key, name in OOD_FEATURES]},
            "conformal": {"coverage": job["coverage"], "min_probability": conformal["min_probability"],
                          "method": "class-conditional split conformal (LAC) on calibrated probabilities, calibrated on the validation "
                                    "images of seen and unseen sources together",
                          "calibration_images": conformal["calibration_images"]},
        }
        # Decision thresholds for named operating points, on the same images that fitted T and the sets.
        pick = lambda idx: idx[is_chest[idx] & single[idx]]  # noqa: E731
        assessment["operating_points"], operating_report = OP.evaluate(
            probabilities, labels_np, classes, both_cal,
            {side: pick(split[side]) for side in ("test", "unseen_val", "unseen_test")})
        min_probability = np.asarray([conformal["min_probability"][c] for c in classes])
        log(f"gate threshold {gate_threshold:.3f}; distance flag above {flag_above:.2f}, refuse above {refuse_above:.2f}; "
            f"{job['coverage']:.0%} set thresholds " + ", ".join(f"{c} {v:.3f}" for c, v in conformal["min_probability"].items()))
    else:
        refused = lambda idx: np.zeros(len(idx), bool)  # noqa: E731
        flagged = refused
        min_probability = np.zeros(len(classes))

    def figures(idx: np.ndarray) -> dict:
        idx = idx[is_chest[idx]]
        p = probabilities(idx)
        return split_figures(p, mask_np[idx], A.prediction_sets(p, min_probability), refused(idx), flagged(idx), classes,
                             expected_calibration_error)

    test = split["test"][is_chest[split["test"]]]
    metrics = figures(split["test"])
    metrics["split"] = "test"
    test_single = test[single[test]]
    metrics["ece_before_temperature"] = round(expected_calibration_error(softmax(at(test_single, "logits")), labels_np[test_single]), 4)
    metrics["ece_after_temperature"] = metrics.get("ece", 0.0)
    metrics["validation"] = figures(split["val"])
    metrics["validation"].pop("confusion_matrix", None)
    for side in ("unseen_val", "unseen_test"):
        if len(split[side]):
            metrics[side] = figures(split[side])
    per_source = {}
    for side in ("unseen_val", "unseen_test"):
        groups: dict[str, list[int]] = {}
        for i in split[side]:
            groups.setdefault(f"{rows[i]['source']} :: {rows[i]['class_text']}", []).append(i)
        for key, members in sorted(groups.items()):
            f = figures(np.asarray(members))
            c = rows[members[0]]["class_text"]
            per_source[key] = {"split": side, "images": len(members), "class": c,
                               "sensitivity": f["per_class"][c]["sensitivity"] if c in f.get("per_class", {}) else None,
                               "predicted": dict(zip(classes, f["confusion_matrix"]["counts"][classes.index(c)])) if c in classes else None,
                               "false_refusals": f["false_refusals"], "flagged_unlike_training": f["flagged_unlike_training"],
                               "set_coverage": f.get("prediction_set", {}).get("coverage")}
    metrics["per_unseen_source"] = per_source
    if has_gate:
        metrics["operating_points"] = operating_report
    log(f"temperature {temperature:.3f}; seen-source test accuracy {metrics['accuracy']:.4f}, ECE {metrics['ece']:.4f}"
        + "".join(f"; {side} accuracy {metrics[side]['accuracy']:.4f}, ECE {metrics[side]['ece']:.4f}" for side in ("unseen_val", "unseen_test") if side in metrics))
    for key, f in per_source.items():
        log(f"  {f['split']:11} {key}: {f['images']} images, sensitivity {f['sensitivity']}, refused {f['false_refusals']}")

    if has_gate:
        metrics["gate"] = gate_figures(job, rows, split, is_chest, at, refused, reference, calibration_chest, distance,
                                       refuse_above, gate_kinds)
        metrics["shortcut_probe"] = shortcut_probe(job, rows, host, needed, at, is_chest, rng)

    parts = [OodPart(torch.from_numpy(m), torch.from_numpy(w), scale) for m, w, scale in ood_parts.values()]
    exportable = Exportable(model, temperature, *parts).eval()
    test_pixels = host.index_select(0, torch.from_numpy(test)).unsqueeze(1).float()
    calibration_pixels = host.index_select(0, torch.from_numpy(calibration_chest[:200])).unsqueeze(1).float()
    if exportable.with_assessment:
        # The thresholds were set on `distance`; the graph must compute the same thing (export_onnx then checks
        # onnxruntime against this module).
        with torch.no_grad():
            graph_distance = exportable(calibration_pixels)[4].numpy()
        numpy_distance = distance(calibration_chest[:200])
        worst = float(np.max(np.abs(graph_distance - numpy_distance) / np.maximum(numpy_distance, 1.0)))
        if worst > 1e-4:
            raise RuntimeError(f"the exported distance differs from the one the thresholds were set on by {worst:.2e}")
        log(f"exported distance vs the thresholds' distance on {len(numpy_distance)} validation chest X-rays: max relative |diff| {worst:.1e}")
    reference_out = export_onnx.export(exportable, job, classes, temperature, metrics, training, test_pixels, calibration_pixels,
                                       test.tolist(), assessment)
    report.write_all(job, classes, temperature, metrics, training, reference_out, assessment)
    return 0


def gate_figures(job, rows, split, is_chest, at, refused, reference, calibration_chest, distance, refuse_above, gate_kinds) -> dict:
    """Refusal per kind on held-out negatives, and leave-one-kind-out: the gate refitted (a linear layer on
    the frozen pooled features) without kind K, with the distance check, on every image of K."""
    out: dict = {"refused_by_kind": {}, "leave_one_kind_out": {}}
    for side in ("test", "val"):
        negatives = split[side][~is_chest[split[side]]]
        kinds: dict[str, list[int]] = {}
        for i in negatives:
            kinds.setdefault(rows[i]["kind"], []).append(i)
        out["refused_by_kind"][side] = {k: {"images": len(v), "refused": round(float(refused(np.asarray(v)).mean()), 4)} for k, v in sorted(kinds.items())}
        real = [i for i in negatives if not rows[i]["kind"].startswith("generated_")]
        generated = [i for i in negatives if rows[i]["kind"].startswith("generated_")]
        out[f"{side}_not_cxr_refused"] = round(float(refused(np.asarray(real, dtype=np.int64)).mean()), 4) if real else None
        out[f"{side}_generated_refused"] = round(float(refused(np.asarray(generated, dtype=np.int64)).mean()), 4) if generated else None
    all_negatives = np.concatenate([split[s][~is_chest[split[s]]] for s in ("train", "val", "test")])
    train_negatives = split["train"][~is_chest[split["train"]]]
    features = lambda idx: np.concatenate([at(idx, "max"), at(idx, "mean")], 1)  # noqa: E731
    for kind in sorted({rows[i]["kind"] for i in all_negatives}):
        keep = np.asarray([i for i in train_negatives if rows[i]["kind"] != kind], dtype=np.int64)
        train_idx = np.concatenate([reference, keep])
        gates = np.asarray([rows[i]["gate"] for i in train_idx])
        present = np.unique(gates)
        codes = np.searchsorted(present, gates)
        counts = np.bincount(codes)
        params = A.fit_linear(features(train_idx), codes, len(present), steps=150, sample_weight=1.0 / counts[codes])
        accept = lambda idx: A.predict_linear(features(idx), params)[:, 0]  # noqa: E731
        threshold = A.gate_threshold(accept(calibration_chest), A.GATE_QUANTILE)
        members = np.asarray([i for i in all_negatives if rows[i]["kind"] == kind], dtype=np.int64)
        by_gate = accept(members) < threshold
        by_distance = distance(members) > refuse_above
        out["leave_one_kind_out"][kind] = {"images": int(len(members)), "refused": round(float((by_gate | by_distance).mean()), 4),
                                          "refused_by_gate": round(float(by_gate.mean()), 4),
                                          "refused_by_distance": round(float(by_distance.mean()), 4)}
        log(f"  leave-one-kind-out {kind}: {out['leave_one_kind_out'][kind]['refused']:.3f} refused "
            f"(gate {by_gate.mean():.3f}, distance {by_distance.mean():.3f})")
    log(f"gate: held-out not-cxr refused {out['test_not_cxr_refused']}, generated refused {out['test_generated_refused']}")
    return out


def shortcut_probe(job, rows, host, needed, at, is_chest, rng) -> dict:
    """How well the source of a chest X-ray can be told from the model's pooled features, and from trivial
    image statistics: a cross-validated linear probe, over all classes and within each class."""
    chest = needed[is_chest[needed]]
    sample = np.sort(rng.choice(chest, min(len(chest), 4000), replace=False))
    sources = np.asarray([rows[i]["source"] for i in sample])
    class_text = np.asarray([rows[i]["class_text"] for i in sample])
    sizes = np.asarray([rows[i]["original_size"] for i in sample], dtype=np.float32)
    stats = A.image_statistics(host.index_select(0, torch.from_numpy(sample)).numpy(), sizes)
    pooled = at(sample, "mean")
    out = {"all_classes": {"features": A.probe(pooled, sources), "image_statistics": A.probe(stats, sources)}, "within_class": {}}
    for c in sorted(set(class_text)):
        members = class_text == c
        if len(set(sources[members])) > 1:
            out["within_class"][c] = {"features": A.probe(pooled[members], sources[members]),
                                      "image_statistics": A.probe(stats[members], sources[members])}
    log(f"shortcut probe (source from features / from image statistics): {out['all_classes']['features']['accuracy']} / "
        f"{out['all_classes']['image_statistics']['accuracy']} (majority {out['all_classes']['features']['majority']})")
    return out


if __name__ == "__main__":
    sys.exit(main())
