"""Time colorize.evaluation.metrics on N synthetic photos (default 1000 at 256 px), excluding model prediction.

    python benchmarks/bench_metrics.py [--images 1000] [--size 256]

Per photo it does what ``python -m colorize.cli.evaluate`` does per photo and
model: the truth's Lab/bins/colourfulness once, then one full-resolution
scoring of an output (Lab of the output, AuC histogram, PSNR, SSIM,
colourfulness, ab MSE/R^2, |dL|) and the classifier-grid metrics on
(size/4, size/4, Q) logits. Prints the median milliseconds per step and the
projected total for N photos and one model.
"""

import argparse
import time

import cv2
import numpy as np

from colorize import color

from colorize.evaluation import metrics
from colorize.quantize import ab_bins


def synthetic_photo(rng, size):
    """Smooth random colours plus some texture: 'random-ish' 8-bit RGB (size, size, 3)."""
    coarse = rng.integers(0, 256, (6, 6, 3)).astype(np.float32)
    smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    texture = rng.normal(0, 12, (size, size, 1)).astype(np.float32)
    return np.clip(smooth + texture, 0, 255).astype(np.uint8)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    q = len(ab_bins())
    metrics.coarse_groups()  # warm caches (bins, lookup tables)
    steps = {name: [] for name in ("truth", "output_lab", "auc_hist", "psnr", "ssim", "colourfulness",
                                   "regression", "accumulator_add", "classifier_grid")}
    accumulator = metrics.MetricAccumulator()
    classifier = metrics.ClassifierSums()
    start_all = time.perf_counter()
    for _ in range(args.images):
        photo = synthetic_photo(rng, args.size)
        # An "output": the photo's L with shifted, blurred colours.
        lab = color.rgb_to_lab(photo)
        lab[..., 1:] = cv2.GaussianBlur(lab[..., 1:], (0, 0), 4) * 0.6 + 5
        output = color.to_uint8(color.lab_to_rgb(lab))
        logits = rng.normal(0, 1, (args.size // 4, args.size // 4, q)).astype(np.float32)

        t = time.perf_counter()
        truth = metrics.Truth.of(photo)
        steps["truth"].append(time.perf_counter() - t)
        t = time.perf_counter()
        out_lab = color.rgb_to_lab(output)
        steps["output_lab"].append(time.perf_counter() - t)
        t = time.perf_counter()
        metrics.AucHistogram.of_image(out_lab[..., 1:], truth.ab, truth.bins)
        steps["auc_hist"].append(time.perf_counter() - t)
        t = time.perf_counter()
        metrics.psnr(output, photo)
        steps["psnr"].append(time.perf_counter() - t)
        t = time.perf_counter()
        metrics.ssim(output, photo)
        steps["ssim"].append(time.perf_counter() - t)
        t = time.perf_counter()
        metrics.colourfulness(output)
        steps["colourfulness"].append(time.perf_counter() - t)
        t = time.perf_counter()
        metrics.RegressionSums().add(out_lab[..., 1:], truth.ab)
        steps["regression"].append(time.perf_counter() - t)
        t = time.perf_counter()
        accumulator.add(output, truth)
        steps["accumulator_add"].append(time.perf_counter() - t)
        t = time.perf_counter()
        grid_truth = metrics.pool_ab(truth.ab, 4)
        classifier.add(logits, grid_truth)
        steps["classifier_grid"].append(time.perf_counter() - t)
    wall = time.perf_counter() - start_all
    summary = accumulator.summary()

    print(f"{args.images} photos of {args.size}x{args.size}, one model (median ms per photo):")
    for name, times in steps.items():
        print(f"  {name:16s} {1000 * np.median(times):7.2f} ms")
    per_photo = np.median(steps["truth"]) + np.median(steps["accumulator_add"])
    print(f"projected scoring time, truth + full-res metrics: {per_photo * args.images:6.1f} s "
          f"(+ classifier grid {np.median(steps['classifier_grid']) * args.images:5.1f} s) for {args.images} photos")
    print(f"whole loop incl. making the synthetic photos and the per-step re-runs: {wall:.1f} s")
    print(f"sanity: auc {summary['auc']:.3f}, rebalanced {summary['auc_rebalanced']:.3f}, "
          f"colour ratio {summary['colourfulness_ratio']:.2f}")


if __name__ == "__main__":
    main()
