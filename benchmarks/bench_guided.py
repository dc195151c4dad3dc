"""User-guided colorization measured as in Zhang et al. (SIGGRAPH 2017): quality against simulated colour points.

    python benchmarks/bench_guided.py --guided runs/guided/guided.keras [--default gan] [--limit 200]
        [--data ../shared/data/imagenet_val ../shared/data/diverse/unseen] [--json out.json] [--figure out.png]

For each folder, a seeded sample of ``--limit`` colour photos goes through the same predict path as
the scripts (their gray, working size = the model's training size, mirror-averaged, full-resolution
composition) with:

* the automatic default (``--default``, no hints): the row every guided figure is compared with;
* the guided model with 0, 1, 2, 5, 10, 20, 50 simulated points: places drawn uniformly
  (seeded per photo), each asking for the true colour there (the mean RGB of the 3x3 patch);
* the guided model with the true photo's own colour distribution as the reference (no points).

Reported: AuC (over all pixels of all photos, as ``colorize.cli.evaluate``), mean PSNR, and for
points how often a point's colour holds at its place (ab at the point within 10 of the asked ab,
over the points whose colour is in gamut at the photo's lightness there). Prints a Markdown table;
``--figure`` draws PSNR and AuC against the number of points.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

POINT_COUNTS = (0, 1, 2, 5, 10, 20, 50)
HOLD_DISTANCE = 10.0


def sample_photos(folder, limit, seed=0):
    from colorize.io import list_images

    paths = list_images(folder)
    rng = np.random.default_rng(seed)
    return [paths[i] for i in sorted(rng.choice(len(paths), size=min(limit, len(paths)), replace=False))]


def true_points(rgb, count, rng):
    """``count`` places drawn uniformly, each asking for the mean true RGB of its 3x3 patch."""
    from colorize.hints import Point

    height, width = rgb.shape[:2]
    points = []
    for y, x in zip(rng.integers(0, height, count), rng.integers(0, width, count)):
        patch = rgb[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2].reshape(-1, 3).mean(axis=0)
        points.append(Point(float(x), float(y), tuple(int(round(v)) for v in patch)))
    return points


def held(points, lightness, out_lab):
    """(points whose asked colour holds within HOLD_DISTANCE, points whose colour is in gamut there)."""
    from colorize import color

    holding = in_gamut = 0
    for point in points:
        x, y = int(point.x), int(point.y)
        asked = np.array(point.ab, np.float32)
        shown = color.rgb_to_lab(color.l_ab_to_rgb(lightness[y : y + 1, x : x + 1], asked[None, None]))[0, 0, 1:]
        if np.hypot(*(shown - asked)) > 2.0:  # not displayable at this lightness: no colorizer can hold it
            continue
        in_gamut += 1
        holding += int(np.hypot(*(out_lab[y, x, 1:] - asked)) <= HOLD_DISTANCE)
    return holding, in_gamut


def measure(folder, guided, default, limit, seed):
    from colorize import color
    from colorize.evaluation.metrics import AucHistogram, psnr
    from colorize.hints import Guidance, reference_vector
    from colorize.io import read_image
    from colorize.predict.pipeline import colorize_image, lightness_of

    settings = ["default"] + [f"points {n}" for n in POINT_COUNTS] + ["reference"]
    histograms = {name: AucHistogram.empty() for name in settings}
    psnrs = {name: [] for name in settings}
    holds = {name: [0, 0] for name in settings}
    photos = 0
    for index, path in enumerate(sample_photos(folder, limit, seed)):
        try:
            rgb = read_image(path)
        except Exception:
            continue
        truth = color.rgb_to_lab(rgb)
        if np.abs(truth[..., 1:]).max() < 1:  # gray photos say nothing about colour
            continue
        photos += 1
        lightness = lightness_of(rgb)
        gray = color.l_ab_to_rgb(lightness, np.zeros(lightness.shape + (2,), np.float32))
        runs = {"default": (default, None), "reference": (guided, Guidance(reference=reference_vector(rgb)))}
        for count in POINT_COUNTS:
            rng = np.random.default_rng([seed, index, count])
            runs[f"points {count}"] = (guided, Guidance(points=tuple(true_points(rgb, count, rng))))
        for name, (model, guidance) in runs.items():
            out = colorize_image(gray, model, guidance=guidance or None)
            out_lab = color.rgb_to_lab(out)
            histograms[name] += AucHistogram.of_image(out_lab[..., 1:], truth[..., 1:])
            psnrs[name].append(psnr(out, rgb))
            if guidance and guidance.points:
                good, total = held(guidance.points, lightness, out_lab)
                holds[name][0] += int(good)
                holds[name][1] += total
    return {name: {"auc": histograms[name].auc(), "psnr": float(np.mean(psnrs[name])),
                   "points_holding": holds[name][0], "points_in_gamut": holds[name][1]}
            for name in settings} | {"photos": photos}


def figure(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for (label, rows), style in zip(results.items(), ("o-", "s-", "^-")):
        for axis, key in zip(axes, ("psnr", "auc")):
            line, = axis.plot(range(len(POINT_COUNTS)), [rows[f"points {n}"][key] for n in POINT_COUNTS], style,
                              label=f"{label}: guided, points")
            axis.axhline(rows["default"][key], color=line.get_color(), linestyle=":", label=f"{label}: automatic default")
            axis.plot([0], [rows["reference"][key]], "*", markersize=12, color=line.get_color(),
                      label=f"{label}: truth's colours as reference")
    for axis, key in zip(axes, ("PSNR (dB)", "AuC")):
        axis.set_xticks(range(len(POINT_COUNTS)), [str(n) for n in POINT_COUNTS])
        axis.set_xlabel("simulated true-colour points")
        axis.set_ylabel(key)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    from colorize.predict.engine import open_colorizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guided", required=True, help="the guided model (.keras; its .lite copy is used when current)")
    parser.add_argument("--default", default="gan", help="the automatic default to compare with")
    parser.add_argument("--data", nargs="+", default=["../shared/data/imagenet_val", "../shared/data/diverse/unseen"])
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--json", default=None)
    parser.add_argument("--figure", default=None)
    args = parser.parse_args()
    guided, guided_path = open_colorizer(args.guided, args.engine)
    default, default_path = open_colorizer(args.default, args.engine)
    print(f"guided: {guided_path} ({type(guided).__name__}); default: {default_path} ({type(default).__name__})")
    results = {}
    for folder in args.data:
        if not Path(folder).is_dir():
            print(f"skipped {folder}: not here")
            continue
        start = time.perf_counter()
        results[Path(folder).name if Path(folder).name != "unseen" else "diverse/unseen"] = measure(
            folder, guided, default, args.limit, args.seed)
        print(f"{folder}: {time.perf_counter() - start:.0f} s")
    print("\n| photos | setting | AuC | PSNR | points holding (in gamut) |\n|---|---|---|---|---|")
    for label, rows in results.items():
        for name, row in rows.items():
            if name == "photos":
                continue
            hold = f"{row['points_holding']} / {row['points_in_gamut']}" if row["points_in_gamut"] else "–"
            print(f"| {label} ({rows['photos']}) | {name} | {row['auc']:.4f} | {row['psnr']:.2f} | {hold} |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if args.figure:
        figure(results, args.figure)


if __name__ == "__main__":
    main()
