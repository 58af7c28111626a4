"""The model card (JSON and Markdown) and the plots, written next to the exported model."""
from __future__ import annotations

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def paths(out: str) -> dict[str, str]:
    stem = out[:-5] if out.endswith(".onnx") else out
    return {"card_json": stem + ".card.json", "card_md": stem + ".card.md",
            "curves": stem + ".curves.png", "confusion": stem + ".confusion.png"}


def plot_curves(history: list[dict], path: str) -> None:
    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    left.plot(epochs, [h["train_loss"] for h in history], "o-", label="training")
    left.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation")
    left.set(title="Loss (class-weighted cross-entropy)", xlabel="epoch")
    right.plot(epochs, [h["train_accuracy"] for h in history], "o-", label="training")
    right.plot(epochs, [h["val_accuracy"] for h in history], "o-", label="validation")
    right.set(title="Accuracy", xlabel="epoch", ylim=(0, 1))
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_confusion(matrix: list[list[int]], classes: list[str], path: str, title: str) -> None:
    counts = np.asarray(matrix)
    rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.5, 5.5), dpi=100)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes)), classes, rotation=30, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{counts[i, j]}\n{rates[i, j]:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(card: dict) -> str:
    m = card["metrics"]
    t = card["training"]
    lines = [
        f"# Model card: {card['name']} {card['version']}",
        "",
        "> **Research artifact, not a medical device.** Not for diagnosis, triage or any clinical decision.",
        "",
        f"- File: `{card['file']}` ({card['size_bytes']} bytes), sha256 `{card['sha256']}`",
        f"- Architecture: {t['architecture']} (ImageNet weights: {t['pretrained'] or 'none'}), head: global max pool, "
        "Dense(256, ReLU, L2), BatchNorm, Dropout(0.45), Dense(classes)",
        f"- Input: `image` float32 [N, 1, {card['input_size']}, {card['input_size']}], luminance 0..255, "
        f"preprocessing `{card['preprocessing']}` (the Worker's TypeScript code)",
        f"- Calibration: temperature scaling, T = {card['temperature']:.4f} (fitted on the validation split)",
        f"- Command: `{t.get('command', '')}`",
        "",
        f"## Test split ({m['images']} images, groups never shared with training or validation)",
        "",
        f"Accuracy **{m['accuracy']:.4f}**, macro-F1 **{m['macro_f1']:.4f}**, expected calibration error "
        f"{m['ece_before_temperature']:.4f} before and **{m['ece_after_temperature']:.4f}** after temperature scaling.",
        "",
        "| class | support | sensitivity | specificity | precision | F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, c in m["per_class"].items():
        lines.append(f"| {name} | {c['support']} | {c['sensitivity']:.4f} | {c['specificity']:.4f} | {c['precision']:.4f} | {c['f1']:.4f} |")
    classes = m["confusion_matrix"]["rows_true_columns_predicted"]
    lines += ["", "Confusion matrix (rows: true, columns: predicted):", "",
              "| | " + " | ".join(classes) + " |", "| --- |" + " ---: |" * len(classes)]
    for name, row in zip(classes, m["confusion_matrix"]["counts"]):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    lines += ["", "## Data and split", ""]
    data = t.get("data", {})
    lines.append(f"- Source: {data.get('images', '?')} images in {len(classes)} class folders; "
                 f"{data.get('skipped', 0)} unreadable files skipped; grouping: `{data.get('group_by', 'file')}`.")
    for part, per_class in t.get("split_sizes", {}).items():
        lines.append(f"- {part}: " + ", ".join(f"{k} {v}" for k, v in per_class.items()))
    lines += ["", "## Intended use", "", card["intended_use"], "", "## Limitations and known biases", ""]
    lines += [f"- {item}" for item in card["limitations"]]
    lines += ["", "## Training", "",
              f"{t['epochs']} epochs ({t['recipe']} recipe), best epoch {t['best_epoch']} by validation macro-F1, "
              f"batch {t['batch_size']}, seed {t['seed']}, on {t['device']}, {t['duration_seconds']} s.", ""]
    if card.get("quantized"):
        q = card["quantized"]
        lines += [f"int8 variant `{q['path']}`: {q['size_bytes']} bytes, test accuracy {q['accuracy']:.4f}, macro-F1 {q['macro_f1']:.4f}.", ""]
    return "\n".join(lines)


def write_all(job: dict, classes: list[str], temperature: float, metrics: dict, training: dict, reference: dict) -> None:
    import hashlib

    out = job["out"]
    files = paths(out)
    with open(out, "rb") as fh:
        sha256 = hashlib.sha256(fh.read()).hexdigest()
    card = {
        "name": job["model_name"], "version": job["model_version"], "file": os.path.basename(out),
        "sha256": sha256, "size_bytes": os.path.getsize(out), "classes": classes, "input_size": job["input_size"],
        "preprocessing": job["preprocessing"], "temperature": temperature,
        "metrics": metrics, "training": training, "intended_use": job["intended_use"], "limitations": job["limitations"],
        "parity": {"onnxruntime_python_max_abs_diff": reference["onnxruntime_python_max_abs_diff"]},
        "quantized": reference.get("quantized"),
    }
    plot_curves(training["history"], files["curves"])
    plot_confusion(metrics["confusion_matrix"]["counts"], classes, files["confusion"],
                   f"Test split confusion (accuracy {metrics['accuracy']:.3f})")
    with open(files["card_json"], "w") as fh:
        json.dump(card, fh, indent=2)
    with open(files["card_md"], "w") as fh:
        fh.write(markdown(card) + "\n")
    print("wrote " + ", ".join(files.values()), flush=True)
