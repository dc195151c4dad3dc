#!/usr/bin/env python
"""Bilinear vs guided chroma upsampling on real photos, with the network taken out, and the crop figure.

    python benchmarks/upsample_quality.py [--data DIR] [--limit 300] [--factor 4] [--model M.keras --size 64]
                                          [--figure docs/upsample_crop.png]

"Oracle" rows: each photo's TRUE ab, area-averaged to a grid --factor times
coarser than the photo (what a perfect network predicts at that working
size), brought back to full resolution by each method and joined with the
photo's L. The differences are then the upsampler's alone. With --model, the
same for that model's own prediction at working size --size. Scores: AuC and
PSNR at full resolution (colorize.evaluation.metrics), and the mean ab error on the
pixels within 2 px of a strong L edge (Canny), where colour bleeds.

The figure: the crop (48 px, zoomed 4x, nearest neighbour) where guided most
reduces the oracle's edge error, as rows (oracle; model) of
gray | bilinear | guided | truth.
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
CROP, ZOOM = 48, 4


def edge_band(lightness):
    """Pixels within 2 px of a strong edge of L (H, W) in [0, 100]: bool (H, W)."""
    edges = cv2.Canny(np.clip(lightness * 2.55, 0, 255).astype(np.uint8), 60, 150)
    return cv2.dilate(edges, np.ones((5, 5), np.uint8)) > 0


def crop(image, top, left):
    part = image[top:top + CROP, left:left + CROP]
    return cv2.resize(part, (CROP * ZOOM, CROP * ZOOM), interpolation=cv2.INTER_NEAREST)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(REPO.parent / "shared/data/diverse/unseen"))
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--factor", type=int, default=4, help="oracle grid: the photo's size / factor")
    parser.add_argument("--model", default=None, help="also a trained .keras colorizer at --size")
    parser.add_argument("--size", type=int, default=64, help="working size of --model")
    parser.add_argument("--figure", default=None, metavar="PNG")
    args = parser.parse_args()

    from colorize.color import l_ab_to_rgb, rgb_to_l_ab
    from colorize.evaluation.evaluate import find_photos, iter_photo_batches
    from colorize.predict.pipeline import compose, lightness_of
    from colorize.evaluation.metrics import MetricAccumulator, Truth
    from colorize.predict.upsample import METHODS

    model = None
    if args.model:
        from colorize.predict.engine import load_colorizer
        from colorize.predict.pipeline import predict_ab

        model = load_colorizer(args.model)
    sources = ["oracle"] + (["model"] if model is not None else [])
    scores = {(s, m): MetricAccumulator() for s in sources for m in METHODS}
    band_error = {(s, m): [] for s in sources for m in METHODS}
    best = (-1.0, None)
    for batch in iter_photo_batches(find_photos([args.data]), args.limit, seed=0):
        lums = [lightness_of(rgb) for _, rgb in batch]
        predicted = predict_ab(model, lums, size=args.size) if model is not None else [None] * len(batch)
        for (path, rgb), lum, ab_model in zip(batch, lums, predicted):
            truth = Truth.of(rgb, lum)
            _, ab_true = rgb_to_l_ab(rgb)
            height, width = lum.shape
            grid = (max(1, width // args.factor), max(1, height // args.factor))
            smalls = {"oracle": cv2.resize(ab_true.astype(np.float32), grid, interpolation=cv2.INTER_AREA),
                      "model": ab_model}
            band = edge_band(lum)
            outputs = {}
            for source in sources:
                for method in METHODS:
                    output = compose(lum, smalls[source], upsample=method)
                    outputs[(source, method)] = output
                    scores[(source, method)].add(output, truth)
                    _, ab_out = rgb_to_l_ab(output)
                    error = np.linalg.norm(ab_out - ab_true, axis=-1)
                    if band.any():
                        band_error[(source, method)].append(error[band].mean())
                    if source == "oracle":
                        outputs[("error", method)] = error
            if height < CROP or width < CROP:
                continue
            gain = cv2.boxFilter(outputs[("error", "bilinear")] - outputs[("error", "guided")], -1, (CROP, CROP))
            half = CROP // 2
            inner = gain[half:height - half + 1, half:width - half + 1]
            y, x = np.unravel_index(np.argmax(inner), inner.shape)
            if inner[y, x] > best[0]:
                gray = l_ab_to_rgb(lum, np.zeros(lum.shape + (2,), np.float32))
                best = (float(inner[y, x]), (path, y, x, gray, rgb, {k: v for k, v in outputs.items() if k[0] != "error"}))

    print(f"{len(band_error[('oracle', 'bilinear')])} photos of {args.data}; oracle grid = photo / {args.factor}"
          + (f"; model {args.model} at working size {args.size}" if model is not None else ""))
    print(f"{'source':7s} {'method':9s} {'AuC':>7s} {'PSNR':>6s} {'colour':>6s} {'edge-band ab error':>18s}")
    for (source, method), accumulator in scores.items():
        summary = accumulator.summary()
        print(f"{source:7s} {method:9s} {summary['auc']:7.4f} {summary['psnr']:6.2f} "
              f"{summary['colourfulness_ratio']:6.3f} {np.mean(band_error[(source, method)]):18.2f}")
    if args.figure and best[1] is not None:
        from colorize.plots import comparison_grid

        path, top, left, gray, rgb, outputs = best[1]
        rows = [[crop(gray, top, left)] + [crop(outputs[(s, m)], top, left) for m in METHODS] + [crop(rgb, top, left)]
                for s in sources]
        titles = ["gray input"] + [f"{m}" for m in METHODS] + ["truth"]
        comparison_grid(rows, titles, args.figure, cell_inches=1.6)
        print(f"wrote {args.figure}: {path}, {CROP} px crop at ({left}, {top}) zoomed {ZOOM}x; rows: "
              + ", ".join(f"{s} (truth ab at 1/{args.factor})" if s == "oracle" else f"{s} at size {args.size}"
                          for s in sources))


if __name__ == "__main__":
    main()
