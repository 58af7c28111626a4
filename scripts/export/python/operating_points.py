"""Decision thresholds for named operating points, chosen on the validation images and reported on the test
split and the unseen sources. `train.py` calls `choose` and `figures` for every export; run as a script, this
module adds them to a model exported before they existed (same functions, on the run's own splits):

    python operating_points.py WORK_DIR MODEL.onnx MODEL.card.json [RECIPE.card.json]

(RECIPE.card.json, for a `--final` model: the recipe run's card, whose unseen-source figures join this card's.)

- screening: for each finding a screening programme looks for (tuberculosis, COVID, pneumonia of either type), the
  highest threshold whose validation sensitivity is at least TARGET_SENSITIVITY (the WHO's minimum for a
  tuberculosis triage test is sensitivity 0.90 at specificity 0.70), so specificity is the best that allows;
  Normal, which nobody screens for, takes its balanced threshold.
- balanced: the threshold that maximises Youden's J (sensitivity + specificity - 1).
A class is positive at an operating point when its calibrated probability is at least the threshold.
"""
from __future__ import annotations

import json
import math

import numpy as np

TARGET_SENSITIVITY = 0.90
SCREENED = ("Tuberculosis", "COVID", "Bacterial Pneumonia", "Viral Pneumonia")
DEFAULT = "balanced"
WHO_TB_TRIAGE = {"sensitivity": 0.90, "specificity": 0.70}


def _screening_threshold(positives: np.ndarray, target: float) -> float:
    """The largest t with mean(positives >= t) >= target: the ceil(target * n)-th largest positive score."""
    ordered = np.sort(positives)[::-1]
    return float(ordered[max(0, math.ceil(target * len(ordered)) - 1)])


def _youden_threshold(scores: np.ndarray, positive: np.ndarray) -> float:
    """The score t maximising sensitivity + specificity - 1 for the rule score >= t."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], positive[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    # Only the last of tied scores is a valid cut (everything with that score is on the positive side).
    last = np.r_[s[1:] != s[:-1], True]
    j = tp / max(1, y.sum()) - fp / max(1, (~y).sum())
    j[~last] = -np.inf
    return float(s[int(np.argmax(j))])


def choose(probabilities: np.ndarray, labels: np.ndarray, classes: list[str], target: float = TARGET_SENSITIVITY) -> dict:
    """Thresholds per operating point and class, from calibrated probabilities and single labels."""
    out: dict[str, dict[str, float]] = {"screening": {}, "balanced": {}}
    for k, name in enumerate(classes):
        positive = labels == k
        if positive.sum() == 0 or (~positive).sum() == 0:
            out["balanced"][name] = out["screening"][name] = 0.5  # no validation evidence either way
            continue
        balanced = _youden_threshold(probabilities[:, k], positive)
        out["balanced"][name] = round(balanced, 6)
        out["screening"][name] = round(_screening_threshold(probabilities[positive, k], target) if name in SCREENED else balanced, 6)
    return out


def figures(probabilities: np.ndarray, labels: np.ndarray, classes: list[str], thresholds: dict) -> dict:
    """Sensitivity and specificity of every class at every operating point (None where a side has no image)."""
    out = {}
    for point, by_class in thresholds.items():
        out[point] = {}
        for k, name in enumerate(classes):
            called = probabilities[:, k] >= by_class[name]
            positive = labels == k
            out[point][name] = {
                "threshold": by_class[name],
                "sensitivity": round(float(called[positive].mean()), 4) if positive.any() else None,
                "specificity": round(float((~called[~positive]).mean()), 4) if (~positive).any() else None,
                "positives": int(positive.sum()),
                "negatives": int((~positive).sum()),
            }
    return out


def metadata(thresholds: dict, chosen_on: str) -> dict:
    """What travels in the model's assessment metadata (the Worker reads it; src/ hard-codes none of it)."""
    return {"default": DEFAULT, "target_sensitivity": TARGET_SENSITIVITY, "screened": list(SCREENED), "thresholds": thresholds,
            "chosen_on": chosen_on}


CHOSEN_ON = ("the validation images of seen and unseen sources together (chest X-rays with a single label), the images that "
             "fitted the temperature and the prediction sets")


def evaluate(probabilities, labels, classes, calibration, splits: dict) -> tuple[dict, dict]:
    """Chooses on `calibration` (indices) and reports on each of `splits` (name -> indices): (metadata, figures)."""
    thresholds = choose(probabilities(calibration), labels[calibration], classes)
    report = {"who_tb_triage_minimum": WHO_TB_TRIAGE}
    for name, idx in splits.items():
        if len(idx):
            report[name] = figures(probabilities(idx), labels[idx], classes, thresholds)
    return metadata(thresholds, CHOSEN_ON), report


def _retrofit(work: str, model_path: str, card_path: str, recipe_card: str | None = None) -> None:
    import os

    import onnx
    import onnxruntime as ort

    import report as card_report

    with open(os.path.join(work, "job.json")) as fh:
        job = json.load(fh)
    size = job["input_size"]
    pixels = np.memmap(job["pixels"], dtype=np.uint8, mode="r").reshape(-1, size, size)
    rows = job["rows"]
    classes = job["classes"]
    single = np.array([len(r["label_set"]) == 1 and r["gate"] == 0 for r in rows])
    labels = np.array([r["label_set"][0] if len(r["label_set"]) == 1 else -1 for r in rows])
    split = {k: np.asarray(v, dtype=np.int64) for k, v in job["split"].items()}
    keep = lambda idx: idx[single[idx]]  # noqa: E731
    wanted = np.unique(np.concatenate([keep(split.get(s, np.zeros(0, np.int64))) for s in ("val", "unseen_val", "test", "unseen_test")]))
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    probs = np.zeros((len(wanted), len(classes)), np.float32)
    for start in range(0, len(wanted), 64):
        batch = pixels[wanted[start:start + 64]].astype(np.float32)[:, None]
        probs[start:start + 64] = session.run(["probabilities"], {input_name: batch})[0]
    probabilities = lambda idx: probs[np.searchsorted(wanted, idx)]  # noqa: E731
    calibration = keep(np.concatenate([split["val"], split.get("unseen_val", np.zeros(0, np.int64))]))
    splits = {s: keep(split[s]) for s in ("test", "unseen_val", "unseen_test") if s in split}
    meta, report = evaluate(probabilities, labels, classes, calibration, splits)

    model = onnx.load(model_path)
    props = {p.key: p for p in model.metadata_props}
    assessment = json.loads(props["assessment"].value)
    assessment["operating_points"] = meta
    props["assessment"].value = json.dumps(assessment)
    metrics = json.loads(props["metrics"].value)
    metrics["operating_points"] = report
    props["metrics"].value = json.dumps(metrics)
    training = json.loads(props["training"].value)
    if recipe_card and training.get("recipe_evaluation") is not None:
        with open(recipe_card) as fh:
            training["recipe_evaluation"]["operating_points"] = json.load(fh)["metrics"].get("operating_points")
        props["training"].value = json.dumps(training)
    onnx.save(model, model_path)

    with open(card_path) as fh:
        metrics_on_card = json.load(fh)["metrics"]
    card_report.update_card(card_path, model_path, {"assessment": assessment, "metrics": {**metrics_on_card, "operating_points": report},
                                                    "training": training})
    print(json.dumps({"thresholds": meta["thresholds"], **{k: v for k, v in report.items() if k != "who_tb_triage_minimum"}}, indent=1))


if __name__ == "__main__":
    import sys

    _retrofit(*sys.argv[1:5])
