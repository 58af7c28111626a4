"""Writes synthetic chest-X-ray-like JPEGs of given sizes for the memory and speed measurements.
Usage: python make_images.py OUT_DIR WIDTHxHEIGHT[:gray|:rgb420|:rgb444][:progressive][:qNN] ...
(quality 90 unless :qNN is given)"""
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
for spec in sys.argv[2:]:
    size, *flags = spec.split(":")
    w, h = (int(v) for v in size.split("x"))
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    lungs = sum(np.exp(-(((x - c * w) / (0.16 * w)) ** 2 + ((y - 0.5 * h) / (0.3 * h)) ** 2)) for c in (0.32, 0.68))
    grey = np.clip(200 - 120 * lungs + 12 * np.sin(x / 5.0) * np.cos(y / 9.0) + rng.normal(0, 6, (h, w)), 0, 255).astype(np.uint8)
    img = Image.fromarray(grey, "L")
    kind = "gray" if "gray" in flags else "rgb444" if "rgb444" in flags else "rgb420" if "rgb420" in flags else "gray"
    if kind != "gray":
        img = Image.merge("RGB", [img, img, img])
    quality = next((int(f[1:]) for f in flags if f.startswith("q")), 90)
    name = f"{w}x{h}-{kind}{'-progressive' if 'progressive' in flags else ''}{'' if quality == 90 else f'-q{quality}'}.jpg"
    img.save(out / name, quality=quality, progressive="progressive" in flags,
             **({"subsampling": 0 if kind == "rgb444" else 2} if kind != "gray" else {}))
    print(out / name)
