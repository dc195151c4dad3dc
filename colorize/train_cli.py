"""The train_simple.py / train_complex.py command line (shared by both).

Parses the options, loads and splits the data, builds and compiles the model
and hands over to :func:`colorize.training.fit`. ``--resume`` reuses the
settings saved by the interrupted run, so ``--output X --resume`` is enough.
"""

import argparse
import json
import sys
import time
from pathlib import Path

# Settings that --resume must take from the original run (they define the
# model, the data split or the loss); --epochs may be raised on resume.
_FIXED_ON_RESUME = (
    "data", "size", "batch_size", "lr", "seed", "no_augment", "width",
    "middle_blocks", "lam", "plain_ce", "weight_decay", "val_fraction", "test_fraction", "init",
)

_DESCRIPTIONS = {
    "simple": "Train the simple L2 regression colorizer (CS 512 model 1) on L -> ab.",
    "complex": "Train the Zhang-et-al-style classifier: Q quantized ab bins, class-rebalanced soft "
    "cross-entropy, AdamW.",
}


def build_train_parser(kind):
    """argparse parser for train_<kind>.py."""
    parser = argparse.ArgumentParser(
        prog=f"train_{kind}.py",
        description=_DESCRIPTIONS[kind]
        + " Keeps the best model by validation loss as one .keras file, stops early when validation loss"
        " has not improved by --min-delta for --patience epochs, and writes OUTPUT_log.csv and"
        " OUTPUT_loss.png beside it. If the run is interrupted (e.g. a dropped Colab runtime), run the same"
        " command with --resume.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--data", nargs="+", default=["cifar10"], metavar="DIR",
        help="image folder(s), nested class folders included, or 'cifar10' (downloaded by Keras)",
    )
    parser.add_argument("--size", type=int, default=64 if kind == "simple" else 128, help="training crop size (multiple of 8)")
    parser.add_argument("--epochs", type=int, default=30, help="maximum number of epochs")
    parser.add_argument("--batch-size", type=int, default=32, help="images per batch")
    default_lr = 1e-3 if kind == "simple" else 3e-4
    parser.add_argument("--lr", type=float, default=default_lr, help="learning rate")
    parser.add_argument("--output", "-o", default=f"runs/{kind}.keras", metavar="FILE", help="best model (.keras)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, shuffling and augmentation")
    parser.add_argument("--no-augment", action="store_true", help="no zoom/rotation/shear/flip augmentation")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run at --output")
    parser.add_argument(
        "--init", metavar="FILE", default=None,
        help="start from the weights of this trained .keras model of the same architecture (fine-tuning)",
    )
    parser.add_argument("--width", type=float, default=1.0 if kind == "simple" else 0.25, help="channel-width multiplier")
    if kind == "complex":
        parser.add_argument(
            "--middle-blocks", type=int, default=2, choices=range(5),
            help="512-channel middle blocks kept (paper: 4; Northeastern report: 2)",
        )
        parser.add_argument("--lam", "--lambda", dest="lam", type=float, default=0.5, help="rebalancing mix with the uniform prior")
        parser.add_argument("--plain-ce", action="store_true", help="plain (unweighted) soft cross-entropy, no rebalancing")
        parser.add_argument("--weight-decay", type=float, default=1e-3, help="AdamW decoupled weight decay")
    parser.add_argument("--val-fraction", type=float, default=0.1, help="fraction of images for validation")
    parser.add_argument("--test-fraction", type=float, default=0.1, help="fraction held out for testing")
    parser.add_argument("--patience", type=int, default=7, help="early stopping patience (epochs)")
    parser.add_argument("--min-delta", type=float, default=1e-3, help="smallest validation-loss improvement that counts")
    parser.add_argument("--workers", type=int, default=1, help="data-loading worker threads")
    return parser


def _validate(parser, args):
    """Usage errors (exit 2, one line) for values that would fail deep inside training."""
    if args.size < 8 or args.size % 8:
        parser.error(f"--size must be a positive multiple of 8, got {args.size}")
    for option in ("epochs", "batch_size", "workers"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.lr <= 0:
        parser.error("--lr must be greater than 0")
    if not (0 < args.val_fraction < 1 and 0 <= args.test_fraction < 1 and args.val_fraction + args.test_fraction < 1):
        parser.error("--val-fraction and --test-fraction must be fractions leaving images to train on")
    if getattr(args, "lam", 0.5) is not None and not 0 < getattr(args, "lam", 0.5) <= 1:
        parser.error("--lam must be in (0, 1]")
    if any(d.lower() == "cifar10" for d in args.data) and len(args.data) > 1:
        parser.error("--data cifar10 cannot be combined with folders")


def _apply_saved_settings(args, parser, saved_path):
    """On --resume: take the original run's settings (epochs may be raised).

    Raises ValueError when the settings file is missing or unreadable.
    """
    try:
        saved = json.loads(Path(saved_path).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{saved_path}: cannot read the run's settings ({error})") from None
    for key in _FIXED_ON_RESUME:
        if key in saved:
            setattr(args, key, saved[key])
    if args.epochs == parser.get_default("epochs"):
        args.epochs = saved.get("epochs", args.epochs)


def _fail(kind, message):
    print(f"train_{kind}.py: error: {message}", file=sys.stderr)
    return 2


def train_command(kind, argv=None):
    """Entry point of train_<kind>.py. Returns the process exit status."""
    parser = build_train_parser(kind)
    args = parser.parse_args(argv)
    _validate(parser, args)

    from colorize.runtime import quiet_keras

    quiet_keras()
    from colorize import training

    files = training.run_files(args.output)
    try:
        training.check_output(args.output, args.resume)
    except (FileExistsError, FileNotFoundError) as error:
        return _fail(kind, error)
    if args.resume:
        try:
            _apply_saved_settings(args, parser, files["settings"])
        except ValueError as error:
            return _fail(kind, error)
    for folder in args.data:
        if folder.lower() != "cifar10" and not Path(folder).is_dir():
            return _fail(kind, f"{folder}: no such folder")

    from colorize.data import LabBatches, load_splits

    fractions = (1.0 - args.val_fraction - args.test_fraction, args.val_fraction, args.test_fraction)
    start = time.perf_counter()
    try:
        splits = load_splits(args.data, args.size, fractions, args.seed)
    except (OSError, ValueError) as error:  # e.g. CIFAR-10 cannot be downloaded here
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        return _fail(kind, f"{' '.join(args.data)}: cannot load the data ({first_line})")
    print(
        f"data: {len(splits['train'])} train / {len(splits['val'])} val / {len(splits['test'])} test images "
        f"at {args.size}px, decoded in {time.perf_counter() - start:.0f} s"
    )
    if len(splits["train"]) == 0 or len(splits["val"]) == 0:
        return _fail(kind, f"{' '.join(args.data)}: not enough colour images to train and validate")

    model, extras = build_and_compile(kind, args, splits["train"])
    if args.init and not args.resume:  # on resume the backup holds newer weights
        from colorize.inference import load_colorizer
        from colorize.errors import ColorizeError

        try:
            model.set_weights(load_colorizer(args.init, kind=kind).get_weights())
        except (ColorizeError, ValueError) as error:
            return _fail(kind, f"--init {args.init}: {str(error).splitlines()[0]}")
    files["settings"].parent.mkdir(parents=True, exist_ok=True)
    files["settings"].write_text(json.dumps({**vars(args), **extras}, indent=2))
    train = LabBatches(splits["train"], args.batch_size, augment=not args.no_augment, shuffle=True, seed=args.seed, workers=args.workers)
    val = LabBatches(splits["val"], args.batch_size)
    pipeline_rate = training.pipeline_images_per_second(train)
    print(f"input pipeline alone (decoded images -> augmented L, ab batches): {pipeline_rate:.0f} images/s")
    history, rates = training.fit(
        model, train, val, args.output, args.epochs, resume=args.resume, patience=args.patience, min_delta=args.min_delta
    )
    if rates:
        print(
            f"training speed: {sorted(rates)[len(rates) // 2]:.1f} images/s (median over {len(rates)} epochs); "
            f"input pipeline alone: {pipeline_rate:.0f} images/s"
        )
    print(f"best model: {files['model']}  log: {files['log']}  curves: {files['plot']}")
    return 0


def build_and_compile(kind, args, train_images):
    """Build the model for ``kind`` from the parsed settings and compile it.

    Returns (model, extras): extras are saved in OUTPUT_settings.json (for the
    classifier, the empirical colour prior p over the Q bins that the
    rebalancing weights were made from; the weights travel inside the loss).
    """
    import keras

    if kind == "simple":
        from colorize.models.simple import build_simple_model

        model = build_simple_model(width=args.width)
        model.compile(optimizer=keras.optimizers.Adam(args.lr), loss="mean_squared_error")
        return model, {}

    from colorize.losses import RebalancedSoftCrossEntropy
    from colorize.models.zhang import build_zhang_model
    from colorize.rebalance import class_weights, prior_from_rgb
    from colorize.training import make_adamw

    weights = None
    # Counted once per dataset on a seeded sample of at most 2 M training pixels (a second or two).
    prior = prior_from_rgb(train_images, seed=args.seed)
    if not args.plain_ce:
        weights = class_weights(prior, lam=args.lam)
        print(f"class rebalancing: lambda={args.lam}, weights {weights.min():.2f}..{weights.max():.2f}")
    model = build_zhang_model(width=args.width, middle_blocks=args.middle_blocks)
    model.compile(
        optimizer=make_adamw(args.lr, weight_decay=args.weight_decay),
        loss=RebalancedSoftCrossEntropy(weights=None if weights is None else [float(w) for w in weights]),
    )
    return model, {"class_prior": [round(float(p), 8) for p in prior]}
