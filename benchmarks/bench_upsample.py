#!/usr/bin/env python
"""Cost of the chroma upsampling per 12-megapixel photo: bilinear vs guided (prints medians; never asserts).

    python benchmarks/bench_upsample.py [--runs 5] [--size 256]

For a 4000 x 3000 photo whose ab comes from the network at working size
--size (grid = size / 2 on the short side, e.g. the iizuka/fusion stride),
times :func:`colorize.predict.pipeline.compose` (upsampling + Lab -> RGB, strip by
strip, what every colorize run does after the network) with each method, and
the upsampling alone; then the peak memory compose allocates per method
(tracemalloc; L and the result are the only full-size arrays). No model and no network work: the network's
cost does not depend on the method.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
HEIGHT, WIDTH = 3000, 4000

def inputs(size):
    """A 12 MP photo-like L and the ab grid a perfect network would predict for it at working size ``size``.

    The photo is bench_colorize.py's synthetic one (smooth colours plus noise); its true ab, area-averaged
    to the grid, stays in the sRGB gamut as predictions of a trained model mostly do (random ab would send
    most pixels through the slow out-of-gamut chroma fit of colorize.color and time that instead).
    """
    import cv2
    import numpy as np

    from bench_colorize import photo
    from colorize.color import rgb_to_l_ab

    lightness, ab = rgb_to_l_ab(photo(HEIGHT, WIDTH))
    grid = (size * WIDTH // HEIGHT // 2, size // 2)
    lightness = np.ascontiguousarray(lightness.reshape(HEIGHT, WIDTH), np.float32)
    return lightness, cv2.resize(ab.astype(np.float32), grid, interpolation=cv2.INTER_AREA)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=256, help="working size (network input's short side)")
    args = parser.parse_args()
    from colorize.predict.pipeline import compose
    from colorize.predict.upsample import METHODS, ab_strips

    lightness, ab = inputs(args.size)
    print(f"12 MP photo {WIDTH}x{HEIGHT}, ab grid {ab.shape[1]}x{ab.shape[0]} (working size {args.size}), "
          f"{os.cpu_count()} CPU(s), median of {args.runs} runs")
    for method in METHODS:
        compose(lightness, ab, upsample=method)  # warm-up
        whole, alone = [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            compose(lightness, ab, upsample=method)
            whole.append(time.perf_counter() - start)
            start = time.perf_counter()
            for _rows, _strip in ab_strips(lightness, ab, method):
                pass
            alone.append(time.perf_counter() - start)
        print(f"{method:9s} compose (upsampling + Lab->RGB): {statistics.median(whole):.2f} s "
              f"(min {min(whole):.2f}); upsampling alone {statistics.median(alone):.2f} s (min {min(alone):.2f})")
    import tracemalloc

    # NumPy (and OpenCV's arrays, made by NumPy's allocator) report to tracemalloc: the peak of the arrays
    # compose allocates beyond its inputs, the 36 MB result included (the process's max RSS is dominated
    # by TensorFlow, which colorize.predict.pipeline imports).
    for method in METHODS:
        tracemalloc.start()
        compose(lightness, ab, upsample=method)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"peak memory of compose, {method:8s}: {peak / 2**20:.0f} MiB beyond its inputs "
              f"(L alone: {lightness.nbytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
