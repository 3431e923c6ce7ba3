#!/usr/bin/env python3
"""Independent reference values for tastebud's style descriptor (space style-v1).

Takes scikit-image's bundled sample photographs, crops each to a 256x256 square, saves the
crops as tests/data/style_photo_<name>.png, and computes the descriptor's statistics with numpy,
scipy and scikit-image (whose rgb2lab is a colour conversion independent of the Rust `palette`
crate). Writes tests/data/style_reference.json; tests/render_style/reference.rs compares tastebud's
own values against it.

The definitions follow src/render/style.rs: the image is box-averaged to 128x128 (here with
skimage.transform.downscale_local_mean, exact for a 256x256 crop), converted to CIE Lab (D65),
and measured.

Usage: python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy scikit-image
       /tmp/venv/bin/python scripts/style_reference.py
"""

import json
import os

import numpy as np
import scipy.ndimage
import skimage
from skimage import color, data, io, transform

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data")
N = 128
PHOTOS = ["astronaut", "coffee", "chelsea"]


def crop(image, side=256):
    h, w = image.shape[:2]
    y, x = (h - side) // 2, (w - side) // 2
    return image[y : y + side, x : x + side, :3]


def mean_gradient(l):
    dx = np.abs(l[:-1, 1:] - l[:-1, :-1])
    dy = np.abs(l[1:, :-1] - l[:-1, :-1])
    return float((dx + dy).mean())


def describe(rgb8):
    rgb = transform.downscale_local_mean(rgb8.astype(np.float64), (2, 2, 1))  # 0..255
    assert rgb.shape[:2] == (N, N)
    lab = color.rgb2lab(rgb / 255.0)
    L, a, b = lab[..., 0], lab[..., 1], lab[..., 2]
    C = np.hypot(a, b)
    H = np.degrees(np.arctan2(b, a)) % 360.0

    R, G, B = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = R - G
    yb = 0.5 * (R + G) - B
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())

    mask = C >= 0.5
    weights = C[mask]
    total = weights.sum()
    hist, _ = np.histogram(H[mask], bins=12, range=(0, 360), weights=weights)
    fine, _ = np.histogram(H[mask], bins=36, range=(0, 360), weights=weights)
    hist, fine = hist / total, fine / total
    resultant = np.abs((weights * np.exp(1j * np.radians(H[mask]))).sum()) / total
    harmony = max(
        sum(fine[(k + d) % 36] for d in (35, 0, 1, 17, 18, 19)) for k in range(36)
    )

    detail = mean_gradient(L)
    coarse = transform.downscale_local_mean(L, (2, 2))
    coarse_detail = mean_gradient(coarse)
    local = scipy.ndimage.uniform_filter(L, size=3, mode="nearest")
    fine_texture = float(np.abs(L - local)[1:-1, 1:-1].mean())

    q = N // 4
    centre = L[q : N - q, q : N - q].mean()
    corners = np.mean(
        [L[:q, :q].mean(), L[:q, N - q :].mean(), L[N - q :, :q].mean(), L[N - q :, N - q :].mean()]
    )
    grad = np.zeros_like(L)
    grad[:-1, :-1] = np.abs(L[:-1, 1:] - L[:-1, :-1]) + np.abs(L[1:, :-1] - L[:-1, :-1])
    r = N // 12
    near = sum(
        grad[py - r : py + r, px - r : px + r].sum()
        for py in (N // 3, 2 * N // 3)
        for px in (N // 3, 2 * N // 3)
    )
    third = N // 3

    style = {
        "brightness": L.mean() / 100,
        "contrast": L.std() / 100,
        "dynamic_range": (np.percentile(L, 95) - np.percentile(L, 5)) / 100,
        "chroma": C.mean(),
        "chroma_spread": C.std(),
        "colourfulness": colourfulness,
        "warmth": b.mean(),
        "tint": a.mean(),
        "hue_spread": 1 - resultant,
        "harmony": harmony,
        "detail": detail / 100,
        "fine_texture": fine_texture / 100,
        "softness": coarse_detail / (detail + coarse_detail + 1e-3),
        "vignette": (centre - corners) / 100,
        "symmetry": 1 - np.abs(L - L[:, ::-1]).mean() / 100,
        "thirds": near / grad.sum(),
        "low_key": (L < 25).mean(),
        "high_key": (L > 75).mean(),
        "top_light": (L[:third].mean() - L[N - third :].mean()) / 100,
    }
    for i, v in enumerate(hist):
        style[f"hue_{i * 30:03d}"] = v
    return {k: float(v) for k, v in style.items()}


def main():
    photos = {}
    for name in PHOTOS:
        image = crop(getattr(data, name)())
        file = f"style_photo_{name}.png"
        io.imsave(os.path.join(OUT, file), image, check_contrast=False)
        # Measure what was saved (PNG is lossless, so the same pixels).
        photos[name] = {"file": file, "style": describe(io.imread(os.path.join(OUT, file)))}
    report = {
        "space": "style-v1",
        "made_by": "scripts/style_reference.py",
        "numpy": np.__version__,
        "scikit_image": skimage.__version__,
        "photos": photos,
    }
    with open(os.path.join(OUT, "style_reference.json"), "w") as f:
        json.dump(report, f, indent=1, sort_keys=False)
        f.write("\n")


if __name__ == "__main__":
    main()
