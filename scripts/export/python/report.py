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
    left.set(title="Loss (training: sampled and augmented; validation: cross-entropy)", xlabel="epoch")
    right.plot(epochs, [h["train_accuracy"] for h in history], "o-", label="training")
    right.plot(epochs, [h["val_accuracy"] for h in history], "o-", label="validation, seen sources")
    if any(h.get("unseen_val_accuracy") is not None for h in history):
        right.plot(epochs, [h.get("unseen_val_accuracy") for h in history], "o-", label="validation, unseen sources")
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


def _pct(v) -> str:
    return "–" if v is None else f"{100 * v:.1f} %"


def _num(v, digits: int = 3) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def side_by_side(columns: dict[str, dict], classes: list[str]) -> list[str]:
    """Accuracy, ECE, prediction sets, refusals and per-class sensitivity/specificity, one column per split."""
    names = list(columns)
    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    row = lambda label, f: lines.append(f"| {label} | " + " | ".join(f(columns[n]) for n in names) + " |")  # noqa: E731
    row("images (single label)", lambda m: str(m.get("images", "–")))
    row("accuracy", lambda m: _pct(m.get("accuracy")))
    row("macro-F1", lambda m: _num(m.get("macro_f1")))
    row("expected calibration error", lambda m: _num(m.get("ece")))
    row("95 % prediction set: coverage", lambda m: _pct(m.get("prediction_set", {}).get("coverage")))
    row("95 % prediction set: mean size", lambda m: _num(m.get("prediction_set", {}).get("mean_size"), 2))
    row("refused as not a chest X-ray", lambda m: _pct(m.get("false_refusals")))
    row("flagged unlike the training data", lambda m: _pct(m.get("flagged_unlike_training")))
    row("abstains (flag or set of 2+)", lambda m: _pct(m.get("abstain")))
    for c in classes:
        row(f"{c}: sensitivity / specificity", lambda m, c=c: (
            f"{m['per_class'][c]['sensitivity']:.3f} / {m['per_class'][c]['specificity']:.3f} (n={m['per_class'][c]['support']})"
            if c in m.get("per_class", {}) and m["per_class"][c]["support"] else "–"))
    return lines


def operating_points_section(a: dict | None, m: dict, recipe: dict | None, classes: list[str]) -> list[str]:
    """Thresholds per operating point, and sensitivity / specificity at each on the test split and unseen sources."""
    points = (a or {}).get("operating_points")
    figures = m.get("operating_points") or {}
    if not points:
        return []
    who = figures.get("who_tb_triage_minimum") or {}
    columns = {"test split (seen sources)": figures.get("test")}
    if figures.get("unseen_test"):
        columns["unseen sources, test"] = figures["unseen_test"]
    elif (recipe or {}).get("operating_points", {}).get("unseen_test"):
        columns[f"unseen sources, test (recipe run {recipe.get('model_version')}, its own thresholds)"] = recipe["operating_points"]["unseen_test"]
    if figures.get("unseen_val"):
        columns["validation groups"] = figures["unseen_val"]
    lines = ["", "## Operating points", "",
             f"Thresholds chosen on {points['chosen_on']}. `screening`: for {', '.join(points['screened'])}, the highest threshold "
             f"with validation sensitivity at least {points['target_sensitivity']:.2f}; Normal takes its `balanced` threshold. "
             "`balanced`: the threshold maximising Youden's J. A class is positive when its probability is at least the threshold; "
             f"the API's default is `{points['default']}`. WHO's minimum for a tuberculosis triage test: sensitivity "
             f"{who.get('sensitivity', 0.9):.2f} at specificity {who.get('specificity', 0.7):.2f}.", ""]
    names = [n for n, f in columns.items() if f]
    lines += ["| operating point | class | threshold | " + " | ".join(f"{n}: sens / spec" for n in names) + " |",
              "| --- | --- | ---: | " + " | ".join("---:" for _ in names) + " |"]
    for point, by_class in points["thresholds"].items():
        for c in classes:
            cells = []
            for n in names:
                f = columns[n].get(point, {}).get(c) or {}
                cells.append(f"{_num(f.get('sensitivity'))} / {_num(f.get('specificity'))}")
            lines.append(f"| {point} | {c} | {by_class[c]:.4f} | " + " | ".join(cells) + " |")
    return lines


def graph_line(graph: dict | None) -> list[str]:
    """The card line saying which onnxruntime rewrites were saved into the file (none for older models)."""
    if not graph:
        return []
    loads = ("the Worker's onnxruntime-web of the same version loads it with online optimisation off" if graph["level"] == "extended"
             else "the Worker still optimises it at load")
    ours = ("; then one rewrite of ours: the first convolution reads the one-channel input, its kernel summed over the three "
            "equal channels the exported graph made (a third of that layer's work)" if "grayscale_stem" in graph.get("rewrites", []) else "")
    return [f"- Graph: onnxruntime {graph['onnxruntime']} `{graph['level']}` optimisations saved at export "
            f"({graph['nodes_before']} -> {graph['nodes_after']} nodes, outputs within {graph['max_rel_diff']:.1e} of the exported graph){ours}; {loads}"]


def markdown(card: dict) -> str:
    m = card["metrics"]
    t = card["training"]
    a = card.get("assessment")
    classes = card["classes"]
    lines = [
        f"# Model card: {card['name']} {card['version']}",
        "",
        "> **Research artifact, not a medical device.** Not for diagnosis, triage or any clinical decision.",
        "",
        f"- File: `{card['file']}` ({card['size_bytes']} bytes), sha256 `{card['sha256']}`",
        *graph_line(card.get("graph_optimization")),
        f"- Architecture: {t['architecture']} (ImageNet weights: {t['pretrained'] or 'none'}), head: global max pool, "
        "Dense(256, ReLU, L2), BatchNorm, Dropout(0.45), Dense(classes)"
        + ("; gate: a linear layer on max- and average-pooled features; distance: the larger of two scaled Mahalanobis distances, on average-pooled last features and on the average-pooled maps before the backbone's last layer" if a else ""),
        f"- Input: `image` float32 [N, 1, {card['input_size']}, {card['input_size']}], luminance 0..255, "
        f"preprocessing `{card['preprocessing']}` (the Worker's TypeScript code)",
        f"- Calibration: temperature scaling, T = {card['temperature']:.4f} (fitted on the validation images of seen and held-out sources)",
        f"- Command: `{t.get('command', '')}`",
        "",
    ]
    holdout = t.get("holdout") or {}
    recipe = t.get("recipe_evaluation")
    rejoined = holdout.get("val_sharing_training") or []  # holdout.ts valGroupsSharingTraining
    columns = {"test split (seen sources)": m}
    if "unseen_val" in m:
        columns["validation groups (sources partly in training)" if rejoined else "unseen sources, validation"] = m["unseen_val"]
    if "unseen_test" in m:
        columns["unseen sources, test"] = m["unseen_test"]
    if recipe:
        for side, name in (("unseen_val", "validation"), ("unseen_test", "test")):
            if recipe.get(side):
                columns[f"unseen sources, {name} (recipe run {recipe.get('model_version')})"] = recipe[side]
    lines += ["## Seen and unseen sources", "",
              "Seen sources: the unit-disjoint test split (patients and near-duplicates never shared with training). "
              "Unseen sources: whole (source, class) groups that never entered training; validation ones chose the epoch and "
              "calibrated temperature and prediction sets, test ones were touched only for these figures.", ""]
    if holdout.get("final"):
        lines += ["This is the model to ship: the unseen-source **test** groups joined its training (`--final`), so its own "
                  "unseen-source test column would not be honest and is not shown; the recipe run's column is the measurement "
                  "of the recipe on sources it never saw.", ""]
    if rejoined:
        lines += ["Once the test groups joined training, these validation groups share a source with training images: "
                  + ", ".join(f"`{g}`" for g in rejoined) + ". The validation column of this model is therefore not an "
                  "unseen-source figure (the recipe run's columns are), and its temperature, thresholds and prediction sets "
                  "were calibrated on images partly from sources it was trained on.", ""]
    lines += side_by_side(columns, classes)
    lines += ["", "Held-out groups:", ""]
    for name, reason in (holdout.get("reasons") or {}).items():
        lines.append(f"- {name}: {reason}")
    per_source = (recipe or {}).get("per_unseen_source") if holdout.get("final") else m.get("per_unseen_source")
    if per_source:
        lines += ["", "Per unseen source (what it was called; refused; 95 % set coverage):", "",
                  "| split | source :: class | images | sensitivity | predicted as | refused | set coverage |",
                  "| --- | --- | ---: | ---: | --- | ---: | ---: |"]
        for key, f in per_source.items():
            predicted = ", ".join(f"{c} {n}" for c, n in (f.get("predicted") or {}).items() if n)
            lines.append(f"| {f['split']} | {key} | {f['images']} | {_num(f.get('sensitivity'))} | {predicted} | "
                         f"{_pct(f.get('false_refusals'))} | {_pct(f.get('set_coverage'))} |")
    lines += operating_points_section(a, m, recipe, classes)
    lines += ["", "## Not a chest X-ray: the gate and the distance", ""]
    if a:
        lines += [f"- Refused when the gate's probability of `{a['gate']['accept']}` is below {a['gate']['threshold']:.3f}"
                  + (f" (the {a['gate']['threshold_quantile']} quantile of validation chest X-rays"
                     + (f", {a['gate']['threshold_quantile_value']:.3f}" if "threshold_quantile_value" in a["gate"] else "")
                     + (f", bounded to at most {a['gate']['threshold_max']}" if "threshold_max" in a["gate"] else "") + ")"
                     if "threshold_quantile" in a["gate"] else "")
                  + ", or the "
                  f"distance is above {a['ood']['refuse_above']:.2f} (the {a['ood']['refuse_quantile']} quantile of validation chest X-rays); "
                  f"flagged \"unlike the training data\" above {a['ood']['flag_above']:.2f} (the {a['ood']['flag_quantile']} quantile).",
                  *([f"- Distance: the larger of " + " and ".join(f"the Mahalanobis distance of the {p['features']} ({p['dimensions']} "
                                                              f"values) divided by {p['scale']:.2f}" for p in a["ood"]["parts"])
                     + " (each part's 0.99 quantile on validation chest X-rays)."] if a["ood"].get("parts") else []),
                  f"- Gate kinds: {', '.join(a['gate']['kinds'])}.", ""]
    g = m.get("gate") or (recipe or {}).get("gate")
    if g:
        lines += [f"Held-out not-cxr images refused: **{_pct(g.get('test_not_cxr_refused'))}**; generated negatives refused: "
                  f"**{_pct(g.get('test_generated_refused'))}** (test part of each kind, never trained on).", "",
                  "| kind | held-out images | refused | leave-one-kind-out: refused (by gate / by distance) |", "| --- | ---: | ---: | --- |"]
        test_kinds = g["refused_by_kind"].get("test", {})
        for kind, loko in g.get("leave_one_kind_out", {}).items():
            held = test_kinds.get(kind, {})
            lines.append(f"| {kind} | {held.get('images', '–')} | {_pct(held.get('refused'))} | {_pct(loko['refused'])} "
                         f"({_pct(loko['refused_by_gate'])} / {_pct(loko['refused_by_distance'])}) of {loko['images']} |")
        lines += ["", "Leave-one-kind-out: the gate refitted (a linear layer on the frozen pooled features) without kind K, "
                  "plus the distance check, on every image of K: a proxy for kinds nobody has sent yet. The backbone itself "
                  "was trained with K, so this is optimistic for kinds far from all nine.", ""]
    probe = m.get("shortcut_probe") or (recipe or {}).get("shortcut_probe")
    if probe:
        f, s_ = probe["all_classes"]["features"], probe["all_classes"]["image_statistics"]
        lines += ["## Shortcut probe", "",
                  f"How well the source of a chest X-ray can be told apart (cross-validated linear probe, {f['images']} images, "
                  f"{f['classes']} sources; majority baseline {_pct(f['majority'])}): from the model's pooled features "
                  f"**{_pct(f['accuracy'])}**, from trivial image statistics (stored size, aspect, border and centre brightness, "
                  f"contrast, saturation, smoothness) **{_pct(s_['accuracy'])}**. Within one class:", "",
                  "| class | sources | images | from features | from image statistics | majority |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for c, v in probe["within_class"].items():
            lines.append(f"| {c} | {v['features']['classes']} | {v['features']['images']} | {_pct(v['features']['accuracy'])} | "
                         f"{_pct(v['image_statistics']['accuracy'])} | {_pct(v['features']['majority'])} |")
        lines += ["", "A high figure within a class means the features still carry where an image came from; it explains "
                  "the unseen-source figures and is not itself a target.", ""]
    lines += ["## Data and split", ""]
    data = t.get("data", {})
    lines.append(f"- Sources: {data.get('images', '?')} chest X-rays from {', '.join(data.get('folders') or [])}; "
                 f"{data.get('skipped', 0)} unreadable files skipped; grouping: `{data.get('group_by', 'file')}`; "
                 f"{data.get('partial_labels', 0)} with a partial label (trained on the summed probability of their classes).")
    for part, per_class in t.get("split_sizes", {}).items():
        lines.append(f"- {part}: " + ", ".join(f"{k} {v}" for k, v in per_class.items()))
    lines += ["", "## Intended use", "", card["intended_use"], "", "## Limitations and known biases", ""]
    lines += [f"- {item}" for item in card["limitations"]]
    lines += ["", "## Training", "",
              f"{t['epochs']} epochs of {t.get('epoch_samples', '?')} sampled chest X-rays ({t['recipe']} recipe, `{t.get('augment')}` augmentation), "
              f"best epoch {t['best_epoch']} ({t.get('selection', 'by validation macro-F1')}), "
              f"batch {t['batch_size']}, seed {t['seed']}"
              + (f" (split seed {t['split_seed']})" if t.get('split_seed', t['seed']) != t['seed'] else "")
              + f", on {t['device']}, {t['duration_seconds']} s.", ""]
    if card.get("quantized"):
        q = card["quantized"]
        lines += [f"int8 variant `{q['path']}`: {q['size_bytes']} bytes, test accuracy {q['accuracy']:.4f}, macro-F1 {q['macro_f1']:.4f}.", ""]
    return "\n".join(lines)


def write_all(job: dict, classes: list[str], temperature: float, metrics: dict, training: dict, reference: dict,
              assessment: dict | None = None) -> None:
    import hashlib

    out = job["out"]
    files = paths(out)
    with open(out, "rb") as fh:
        sha256 = hashlib.sha256(fh.read()).hexdigest()
    card = {
        "name": job["model_name"], "version": job["model_version"], "file": os.path.basename(out),
        "sha256": sha256, "size_bytes": os.path.getsize(out), "classes": classes, "input_size": job["input_size"],
        "preprocessing": job["preprocessing"], "temperature": temperature,
        "metrics": metrics, "training": training, "assessment": assessment, "intended_use": job["intended_use"], "limitations": job["limitations"],
        "parity": {"onnxruntime_python_max_abs_diff": reference["onnxruntime_python_max_abs_diff"]},
        "quantized": reference.get("quantized"),
        "graph_optimization": reference.get("graph_optimization"),
    }
    plot_curves(training["history"], files["curves"])
    plot_confusion(metrics["confusion_matrix"]["counts"], classes, files["confusion"],
                   f"Test split, seen sources (accuracy {metrics['accuracy']:.3f})")
    unseen = metrics.get("unseen_test") or (training.get("recipe_evaluation") or {}).get("unseen_test")
    if unseen and unseen.get("confusion_matrix"):
        files["confusion_unseen"] = files["confusion"].replace(".confusion.png", ".confusion-unseen.png")
        plot_confusion(unseen["confusion_matrix"]["counts"], classes, files["confusion_unseen"],
                       f"Unseen sources, test (accuracy {unseen['accuracy']:.3f})")
    with open(files["card_json"], "w") as fh:
        json.dump(card, fh, indent=2)
    with open(files["card_md"], "w") as fh:
        fh.write(markdown(card) + "\n")
    print("wrote " + ", ".join(files.values()), flush=True)


def update_card(card_path: str, model_path: str, changes: dict) -> None:
    """Applies `changes` to a card after its model file was rewritten in place (new metadata, an optimised graph):
    the file's sha256 and size follow, and the Markdown is rendered again."""
    import hashlib

    with open(card_path) as fh:
        card = json.load(fh)
    card.update(changes)
    with open(model_path, "rb") as fh:
        card["sha256"] = hashlib.sha256(fh.read()).hexdigest()
    card["size_bytes"] = os.path.getsize(model_path)
    with open(card_path, "w") as fh:
        json.dump(card, fh, indent=2)
    with open(os.path.splitext(card_path)[0] + ".md", "w") as fh:
        fh.write(markdown(card) + "\n")


if __name__ == "__main__":
    # Re-renders a card's Markdown from its JSON (after a change to this template): python report.py model.card.json
    import sys

    path = sys.argv[1]
    with open(path) as fh:
        card = json.load(fh)
    with open(path[: -len(".json")] + ".md", "w") as fh:
        fh.write(markdown(card) + "\n")
    print(f"wrote {path[: -len('.json')]}.md", flush=True)
