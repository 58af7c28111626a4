"""How often an exported model refuses test-split chest X-rays shown the wrong way (turned, inverted, tiled, framed
on a page as in a screenshot) and degraded ones that are still chest X-rays (low contrast, blurred, cropped).

    scripts/export/.venv/bin/python scripts/export/python/gate_variants.py WORK MODEL.onnx [--films 400]

WORK is the `--work` folder of the export that trained MODEL: its job.json names the split and the pixel cache.
The variants are made from the preprocessed 256 x 256 images (what the model sees), not from the uploads, so
they approximate what the Worker would see for the same upload; a scratch check for the README, not a test.
Refused means what the Worker does: the gate's accepted-kind probability below its threshold, or the distance
above its refusal threshold (both from the model's metadata).
"""
import argparse
import json

import numpy as np
import onnxruntime as ort
from PIL import Image


def resize(x: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(x).resize((width, height), Image.BILINEAR))


def framed(x: np.ndarray, fraction: float, background: int, corner: bool = False) -> np.ndarray:
    """The film shrunk to `fraction` of the side on a uniform page, centred or 8 px from the top-left corner."""
    side = int(x.shape[0] * fraction)
    page = np.full_like(x, background)
    at = 8 if corner else (x.shape[0] - side) // 2
    page[at : at + side, at : at + side] = resize(x, side, side)
    return page


def keystone(x: np.ndarray) -> np.ndarray:
    """A photo of a film taken from below: the top edge about a tenth narrower than the bottom."""
    n = x.shape[0]
    return np.asarray(Image.fromarray(x).transform((n, n), Image.QUAD, (-15, 0, 0, n, n, n, n + 15, 0), Image.BILINEAR))


ONE_FILM = {
    "unchanged": lambda x: x,
    "mirrored left to right": lambda x: x[:, ::-1],
    "upside down": lambda x: x[::-1],
    "quarter turn": lambda x: np.rot90(x).copy(),
    "half turn": lambda x: np.rot90(x, 2).copy(),
    "inverted": lambda x: 255 - x,
    "70 % on black": lambda x: framed(x, 0.7, 0),
    "70 % on white": lambda x: framed(x, 0.7, 255),
    "70 % on mid grey": lambda x: framed(x, 0.7, 128),
    "50 % on black": lambda x: framed(x, 0.5, 0),
    "50 % in a corner of white": lambda x: framed(x, 0.5, 255, corner=True),
    "keystone": keystone,
    "low contrast": lambda x: (96 + x.astype(np.float32) * 0.25).astype(np.uint8),
    "gamma 2.5": lambda x: (255 * (x / 255.0) ** 2.5).astype(np.uint8),
    "blurred to 48 px": lambda x: resize(resize(x, 48, 48), x.shape[1], x.shape[0]),
    "top half": lambda x: resize(x[: x.shape[0] // 2], x.shape[1], x.shape[0]),
    "central 60 %": lambda x: resize(x[round(x.shape[0] * 0.2) : -round(x.shape[0] * 0.2), round(x.shape[1] * 0.2) : -round(x.shape[1] * 0.2)],
                                      x.shape[1], x.shape[0]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("work")
    parser.add_argument("model")
    parser.add_argument("--films", type=int, default=400)
    args = parser.parse_args()
    job = json.load(open(f"{args.work}/job.json"))
    size = job["input_size"]
    pixels = np.memmap(job["pixels"], dtype=np.uint8, mode="r").reshape(-1, size, size)
    is_chest = np.asarray([row["gate"] == 0 for row in job["rows"]])
    test = np.asarray(job["split"]["test"], dtype=np.int64)
    test = test[is_chest[test]]
    films = pixels[np.sort(np.random.default_rng(0).choice(test, min(args.films, len(test)), replace=False))]
    n = len(films)

    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"])
    assessment = json.loads(session.get_modelmeta().custom_metadata_map["assessment"])
    gate, ood = assessment["gate"], assessment["ood"]
    accept = gate["kinds"].index(gate["accept"])

    def refused(images: np.ndarray) -> float:
        probabilities, distance = session.run([gate["output"], ood["output"]], {session.get_inputs()[0].name: images[:, None].astype(np.float32)})
        return float(((probabilities[:, accept] < gate["threshold"]) | (distance > ood["refuse_above"])).mean())

    half = size // 2
    several = {
        "2x2 grid": lambda k: np.block([[resize(films[(k + i) % n], half, half) for i in (0, 1)],
                                        [resize(films[(k + i) % n], half, half) for i in (2, 3)]]),
        "two side by side (stretched)": lambda k: np.concatenate([resize(films[k], half, size), resize(films[(k + 1) % n], half, size)], 1),
    }
    results = {name: refused(np.stack([make(x) for x in films])) for name, make in ONE_FILM.items()}
    results |= {name: refused(np.stack([make(k) for k in range(n)])) for name, make in several.items()}
    print(f"{args.model}: gate threshold {gate['threshold']:.3f}, distance refused above {ood['refuse_above']:.2f}; {n} test-split films")
    for name, share in results.items():
        print(f"  {name:30s} {share * 100:5.1f} % refused")


if __name__ == "__main__":
    main()
