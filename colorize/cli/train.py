"""The training command line: ``colorize-train FAMILY`` and its aliases train_simple.py / train_complex.py.

Every registered family (``colorize.models``) trains through the same steps:
parse its options, load and split the data, build and compile its network,
wrap it in a self-describing Colorizer and hand over to
:func:`colorize.train.fit.fit`. ``--resume`` reuses the settings saved by the
interrupted run, so ``--output X --resume`` is enough. Nothing here branches
on a family's name; the parsers are made from the registry without
importing Keras, so ``--help`` is instant.
"""

import argparse
import json
import math
import os
import shlex
import sys
import time
from pathlib import Path

from colorize import models
from colorize.cli.helpformat import HelpFormatter

# Settings that --resume must take from the original run (they define the data
# split, the input pipeline or the optimizer); the family's own model and
# training options are added to these. --epochs may be raised on resume.
_FIXED_ON_RESUME = (
    "family", "data", "size", "batch_size", "lr", "seed", "no_augment", "val_fraction", "test_fraction", "init",
    "no_cache", "balance_classes", "epoch_photos",
)
# Largest training size: a batch of 32 at 1024 px already needs tens of GiB for the activations.
MAX_TRAIN_SIZE = 1024

_EPILOG = (
    "Keeps the best model by validation loss as one self-describing .keras file, stops early when validation "
    "loss has not improved by --min-delta for --patience epochs, and writes OUTPUT_log.csv, OUTPUT_loss.png and "
    "OUTPUT_settings.json beside it. If the run is interrupted (e.g. a dropped Colab runtime), run the same "
    "command with --resume."
)


def add_common_options(parser, family):
    """Options every family shares, with the family's defaults (size, lr)."""
    defaults = family.defaults
    parser.add_argument(
        "--data", nargs="+", default=["cifar10"], metavar="DIR",
        help="image folder(s), nested class folders included, or 'cifar10' (downloaded by Keras)",
    )
    parser.add_argument("--size", type=int, default=defaults.get("size", 64),
                        help=f"training crop size (multiple of {family.input_multiple}, at most {MAX_TRAIN_SIZE})")
    parser.add_argument("--epochs", type=int, default=defaults.get("epochs", 30), help="maximum number of epochs")
    parser.add_argument("--batch-size", type=int, default=defaults.get("batch_size", 32), help="images per batch")
    parser.add_argument("--lr", type=float, default=defaults.get("lr", 1e-3), help="learning rate")
    parser.add_argument("--output", "-o", default=f"runs/{family.name}.keras", metavar="FILE.keras",
                        help="best model (.keras)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, shuffling and augmentation")
    parser.add_argument("--no-augment", action="store_true", help="no zoom/rotation/shear/flip augmentation")
    parser.add_argument(
        "--balance-classes", action="store_true",
        help="draw every class (image sub-folder) equally often in each training epoch, so a few large classes "
        "do not make up most of it (photos are drawn with replacement)",
    )
    parser.add_argument("--epoch-photos", type=int, default=None, metavar="N",
                        help="photos per training epoch (default: the training set's size); shorter epochs "
                        "validate, back up and keep the best model more often")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run at --output")
    parser.add_argument(
        "--init", metavar="FILE", default=None,
        help="start from the weights of this trained .keras model of the same family (fine-tuning); its model "
        "options (width, ...) are taken from the file",
    )
    parser.add_argument("--val-fraction", type=float, default=0.1, help="fraction of images for validation")
    parser.add_argument("--test-fraction", type=float, default=0.1, help="fraction held out for testing")
    parser.add_argument("--patience", type=int, default=7, help="early stopping patience (epochs)")
    parser.add_argument("--min-delta", type=float, default=1e-3, help="smallest validation-loss improvement that counts")
    parser.add_argument("--workers", type=int, default=1, help="data-loading worker threads")
    parser.add_argument(
        "--no-cache", action="store_true",
        help="families with a frozen pretrained encoder: run it in every step instead of computing its features "
        "once (then the usual zoom/rotation/shear augmentation applies; with the cache only flips do)",
    )
    parser.add_argument(
        "--cache", choices=("auto", "ram", "none"), default="auto",
        help="where the photos stay between epochs: 'ram' decodes them all once; 'none' reads each batch from "
        "disk in --workers threads (datasets larger than memory; implies --no-cache); 'auto' keeps them in RAM "
        "when they fit half of the available memory",
    )
    parser.add_argument(
        "--distribute", action="store_true",
        help="train data-parallel on every visible GPU (tf.distribute.MirroredStrategy; JAX: "
        "keras.distribution.DataParallel); --batch-size is then per device",
    )


def add_family_options(parser, family):
    """The family's builder and loss options, in their own group of --help."""
    group = parser.add_argument_group(f"{family.name} model options")
    for option in family.model_options + family.train_options:
        option.add_to(group)


def _new_parser(prog, description, **kwargs):
    return argparse.ArgumentParser(
        prog=prog, description=description, epilog=_EPILOG,
        formatter_class=HelpFormatter, **kwargs,
    )


def build_train_parser(family_name, prog=None, arch_choices=None):
    """argparse parser training one family. ``arch_choices``: also offer ``--arch`` among these."""
    family = models.get(family_name)
    parser = _new_parser(prog or f"colorize-train {family.name}", f"Train {family.name}: {family.summary}.")
    if arch_choices:
        parser.description += " " + models.DEFAULT_COMPLEX_NOTE
        parser.add_argument("--arch", choices=arch_choices, default=family.name,
                            help="model family to train (its options are listed below; see --arch NAME --help)")
    add_common_options(parser, family)
    add_family_options(parser, family)
    parser.set_defaults(family=family.name)
    return parser


def _family_options(family):
    return family.model_options + family.train_options


def _validate(parser, args, family):
    """Usage errors (exit 2, one line) for values that would fail deep inside training."""
    multiple = family.input_multiple
    if not (multiple <= args.size <= MAX_TRAIN_SIZE and args.size % multiple == 0):
        parser.error(f"--size must be a multiple of {multiple} from {multiple} to {MAX_TRAIN_SIZE}, got {args.size}")
    if args.epoch_photos is not None and args.epoch_photos < 1:
        parser.error("--epoch-photos must be at least 1")
    for option in ("epochs", "batch_size", "workers", "patience"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    # Every float option, the family's included (argparse's float() takes "nan", "inf" and "1e999").
    for key, value in vars(args).items():
        if isinstance(value, float) and not math.isfinite(value):
            parser.error(f"--{key.replace('_', '-')} must be a finite number, got {value}")
    for problem in family.problems(args):  # the family's options know their bounds
        parser.error(problem)
    if not args.lr > 0:
        parser.error("--lr must be greater than 0")
    if args.min_delta < 0:
        parser.error("--min-delta must not be negative")
    if not (0 < args.val_fraction < 1 and 0 <= args.test_fraction < 1 and args.val_fraction + args.test_fraction < 1):
        parser.error("--val-fraction and --test-fraction must be fractions leaving images to train on")
    if any(d.lower() == "cifar10" for d in args.data) and len(args.data) > 1:
        parser.error("--data cifar10 cannot be combined with folders")
    if not args.output.endswith(".keras"):
        parser.error(f"--output must name a .keras file, got {args.output}")


def given_options(parser, argv):
    """The destinations of the options ``argv`` gives explicitly (whatever their value)."""
    defaults = {action: action.default for action in parser._actions}
    try:
        for action in defaults:
            action.default = argparse.SUPPRESS
        given, _ = parser.parse_known_args(argv)
    finally:
        for action, default in defaults.items():
            action.default = default
    options = {action.dest for action in parser._actions if action.option_strings}
    return set(vars(given)) & options


def _same_setting(key, value, saved):
    if key == "data":  # folders compared as the folders they are
        def folders(names):
            return [name.lower() if name.lower() == "cifar10" else os.path.realpath(name) for name in names]

        return folders(value) == folders(saved)
    return value == saved


def _apply_saved_settings(args, saved, family, given):
    """On --resume: take the original run's settings. Returns a one-line refusal, or None.

    A fixed setting given again with another value is refused (the resumed
    run could not honour it); --epochs given applies (the run may be made
    longer), as do the stopping and loading options.
    """
    for key in _FIXED_ON_RESUME + tuple(option.dest for option in _family_options(family)):
        if key not in saved:
            continue
        if key in given and not _same_setting(key, getattr(args, key), saved[key]):
            flag = "--" + key.replace("_", "-")
            return (f"{flag} {getattr(args, key)} differs from the resumed run's {saved[key]}; a resumed run keeps "
                    f"its settings: drop {flag}, or start a new run with another --output")
        setattr(args, key, saved[key])
    if "epochs" not in given:
        args.epochs = saved.get("epochs", args.epochs)
    return None


def command_line(parser, args, **changes):
    """The command line (one shell-quoted string) that runs ``parser`` with ``args``, ``changes`` applied.

    Options at their default are left out (but --arch, which picks the parser); --resume never appears.
    """
    words = [parser.prog]
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help", "resume"):
            continue
        value = changes.get(action.dest, getattr(args, action.dest, action.default))
        if value == action.default and action.dest not in changes and action.dest != "arch":
            continue
        flag = next((name for name in action.option_strings if name.startswith("--")), action.option_strings[0])
        if action.nargs == 0:  # a switch: given when it is not at its default
            words += [flag] if value != action.default else []
        elif isinstance(value, (list, tuple)):
            words += [flag, *map(str, value)]
        elif value is not None:
            words += [flag, str(value)]
    return shlex.join(words)


def _fail(prog, message):
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def _unwritable_reason(output):
    """Why ``output``'s folder cannot take the run's files (None when it can)."""
    from colorize.files import unwritable_folder_reason

    if Path(output).is_dir():
        return "is a folder, not a .keras file"
    return unwritable_folder_reason(Path(output).resolve().parent)


def _saved_family(output):
    """The family a run at ``output`` trained (from its settings), or None."""
    from colorize.train.runfiles import read_settings

    try:
        return read_settings(output).get("family")
    except ValueError:
        return None


def _preparse(argv, default_family, known_families):
    """Find the family a train_complex.py command line asks for (--arch, or the resumed run's)."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--arch", default=None)
    pre.add_argument("--output", "-o", default=None)
    pre.add_argument("--resume", action="store_true")
    known, _ = pre.parse_known_args(argv)
    if known.arch is None and known.resume and known.output:
        saved = _saved_family(known.output)
        if saved in known_families:
            return saved
    return known.arch if known.arch in known_families else default_family


def train_command(script=None, argv=None):
    """Entry point of ``colorize-train`` (script None) and train_<script>.py. Returns the exit status.

    ``script`` "simple": train_simple.py (the simple family); "complex":
    train_complex.py (``--arch``, default the Zhang classifier).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    from colorize.cli.common import guard_std_streams

    guard_std_streams()
    if script is None:
        return _train_console(argv)
    if script == "simple":
        family = models.get(models.names("simple")[0])
        parser = build_train_parser(family.name, prog="train_simple.py")
    else:
        choices = models.names(script)
        name = _preparse(argv, models.DEFAULT_COMPLEX_FAMILY, choices)
        parser = build_train_parser(name, prog=f"train_{script}.py", arch_choices=choices)
    return run_training(parser, argv)


def _train_console(argv):
    """``colorize-train FAMILY [options]``: one sub-command per registered family."""
    parser = argparse.ArgumentParser(
        prog="colorize-train",
        description="Train a colorizer of any registered family. Families: "
        + "; ".join(f"{f.name}: {f.summary}" for f in models.families())
        + ". 'colorize-train FAMILY --help' lists a family's options.",
    )
    parser.add_argument("family", choices=models.names(), help="model family to train")
    if not argv or argv[0] not in models.names():
        parser.parse_args(argv[:1] or ["--help"])  # prints help or a usage error, and exits
    return run_training(build_train_parser(argv[0]), argv[1:])


def run_training(parser, argv):
    """Parse ``argv`` with a family's parser and train. Returns the exit status."""
    args = parser.parse_args(argv)
    given = given_options(parser, argv)
    family = models.get(getattr(args, "arch", None) or args.family)
    _validate(parser, args, family)
    prog = parser.prog
    reason = _unwritable_reason(args.output)
    if reason:
        return _fail(prog, f"--output {args.output}: {reason}")

    from colorize.runtime import quiet_keras

    keras = quiet_keras()
    if family.backends and keras.backend.backend() not in family.backends:
        return _fail(prog, f"the {family.name} family trains on the {' or '.join(family.backends)} backend only, "
                           f"not {keras.backend.backend()} (set KERAS_BACKEND)")
    from colorize.train import runfiles

    files = runfiles.run_files(args.output)
    runfiles.remove_finished_backup(args.output)
    try:
        runfiles.check_output(args.output, args.resume)
    except (FileExistsError, FileNotFoundError) as error:
        return _fail(prog, error)
    if args.resume:
        try:
            saved = runfiles.read_settings(args.output)
        except ValueError as error:
            return _fail(prog, error)
        if saved.get("family", family.name) != family.name:
            return _fail(prog, f"{args.output}: that run trained a {saved['family']} model, not {family.name}")
        refusal = _apply_saved_settings(args, saved, family, given)
        if refusal:
            return _fail(prog, refusal)
    args.family = family.name
    for folder in args.data:
        if folder.lower() != "cifar10" and not Path(folder).is_dir():
            return _fail(prog, f"{folder}: no such folder")
    if args.init and not args.resume:
        # Checked before the data is loaded: a wrong file should not cost minutes of decoding first.
        problem = _init_problem(args, family, given)
        if problem:
            return _fail(prog, f"--init {args.init}: {problem}")
    return _train(prog, family, args, files, parser)


def _init_problem(args, family, given):
    """Why ``args.init`` cannot seed this run (None when it can); takes its model options into ``args``.

    A compiled .lite copy holds no trainable weights; a model of this family
    built with other options (a --width, say) is rebuilt with the file's
    options unless the command line gives another value, which is refused.
    """
    from colorize.errors import ColorizeError
    from colorize.predict import litert
    from colorize.predict.engine import load_colorizer

    init = Path(args.init)
    if init.suffix == litert.SUFFIX:
        beside = init.with_suffix(".keras")
        use = f"use the .keras file beside it: --init {beside}" if beside.exists() else "use the .keras file it was compiled from"
        return f"a compiled {litert.SUFFIX} file cannot seed training (it holds no trainable weights); {use}"
    try:
        start = load_colorizer(args.init, families=[family.name, *family.init_from], engine="keras")
    except ColorizeError as error:
        return error.reason
    if start.family != family.name:
        return None
    for option in family.model_options:
        if option.dest not in start.options or start.options[option.dest] == getattr(args, option.dest):
            continue
        flag = "--" + option.dest.replace("_", "-")
        if option.dest in given:
            return (f"that model was built with {flag} {start.options[option.dest]}, not "
                    f"{getattr(args, option.dest)}: drop {flag} (the --init file's model options are used)")
        setattr(args, option.dest, start.options[option.dest])
    return None


# Fewer images than these train and validate without error but mean nothing: the
# validation loss that picks the best model and stops the run is one photo's.
FEW_TRAIN_IMAGES = 8
FEW_VAL_IMAGES = 2


def _train(prog, family, args, files, parser):
    from colorize.train.photos import load_training_photos

    fractions = (1.0 - args.val_fraction - args.test_fraction, args.val_fraction, args.test_fraction)
    start = time.perf_counter()
    # A family that learns the photos' classes too (its folders' names) asks for them.
    labelled = family.uses_class_labels(args)
    balanced = getattr(args, "balance_classes", False)
    try:
        splits = load_training_photos(args.data, args.size, fractions, args.seed, cache=args.cache,
                                      labels=labelled or balanced)
    except (OSError, ValueError) as error:  # e.g. CIFAR-10 cannot be downloaded here
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        return _fail(prog, f"{' '.join(args.data)}: cannot load the data ({first_line})")
    print(f"photos: {'streamed from disk' if splits.streaming else 'in RAM'} ({splits.reason})")
    balance = splits.labels["train"] if balanced and splits.labels is not None else None
    if balanced:
        print(f"class-balanced epochs over {len(set(map(int, balance)))} classes (the photos' folder names)")
        if not labelled:
            splits.labels = None  # the classes choose the photos; the model is not trained on them
    if labelled:
        args.class_names = splits.class_names
        print(f"classes: {len(args.class_names)} (the photos' folder names)")
    print(
        f"data: {len(splits['train'])} train / {len(splits['val'])} val / {len(splits['test'])} test images "
        f"at {args.size}px, decoded in {time.perf_counter() - start:.0f} s"
    )
    if len(splits["train"]) == 0 or len(splits["val"]) == 0:
        return _fail(prog, f"{' '.join(args.data)}: not enough colour images to train and validate")
    if len(splits["train"]) < FEW_TRAIN_IMAGES or len(splits["val"]) < FEW_VAL_IMAGES:
        print(
            f"warning: only {len(splits['train'])} training and {len(splits['val'])} validation images: too few to "
            f"learn colours from or to pick the best epoch by (use at least {FEW_TRAIN_IMAGES} and {FEW_VAL_IMAGES})",
            file=sys.stderr,
        )

    from colorize.train.distribute import data_parallel, device_summary
    from colorize.errors import ColorizeError

    try:
        with data_parallel(args.distribute) as replicas:
            if args.distribute:
                print(f"{device_summary(replicas)}; global batch {args.batch_size} x {replicas} = "
                      f"{args.batch_size * replicas} images")
            return _fit(prog, family, args, files, splits, replicas, parser, balance)
    except ColorizeError as error:  # a backend without data-parallel support
        return _fail(prog, f"{error.path}: {error.reason}")


def _fit(prog, family, args, files, splits, replicas, parser, balance=None):
    """Build, compile and train ``family`` on ``splits`` (:class:`colorize.train.photos.TrainingPhotos`).

    Runs inside the data-parallel scope of ``replicas`` devices when
    --distribute is given; every batch then holds --batch-size photos per device.
    ``balance``: the training photos' class indices for class-balanced epochs (None: plain shuffling).
    """
    from colorize.files import write_bytes_atomic
    from colorize.train import fit as training
    from colorize.errors import ColorizeError
    from colorize.models.colorizer import make_colorizer

    batch_size = args.batch_size * replicas  # the global batch

    options = family.option_values(args)
    try:
        network = family.build(**options)
    except ValueError as error:  # an option value the builder refuses (e.g. a size that does not divide)
        return _fail(prog, str(error).splitlines()[0])
    # Streamed photos are never all in memory, so neither are their encoder features.
    split = None if args.no_cache or splits.streaming else family.split_frozen(network)
    trained = family.training_model(network if split is None else split[1], args)
    extras = family.compile_for_training(trained, args, splits.prior_images(args.seed))
    colorizer = make_colorizer(family, network, training_size=args.size, options=options)
    try:
        if args.init and not args.resume:  # on resume the backup holds newer weights
            from colorize.predict.engine import load_colorizer

            start = load_colorizer(args.init, families=[family.name, *family.init_from])
            family.initialize_from(network, start.network)
        else:
            family.initialize(network, args)
    except (ColorizeError, ValueError, RuntimeError) as error:
        source = f"--init {args.init}" if args.init and not args.resume else f"{family.name} model"
        return _fail(prog, f"{source}: {str(error).splitlines()[0]}")
    files["settings"].parent.mkdir(parents=True, exist_ok=True)
    # Atomic: a kill while writing must not leave a settings file that --resume cannot read.
    write_bytes_atomic(files["settings"], json.dumps({**vars(args), **extras}, indent=2).encode())
    if split is None:
        train = splits.batches("train", batch_size, augment=not args.no_augment, shuffle=True, seed=args.seed,
                               workers=args.workers, balance=balance, epoch_photos=args.epoch_photos)
        val = splits.batches("val", batch_size, workers=args.workers)
    else:
        from colorize.train.data import FeatureBatches

        start = time.perf_counter()
        train = FeatureBatches(splits["train"], split[0], batch_size, flip=not args.no_augment, shuffle=True,
                               seed=args.seed, workers=args.workers, description="encoder features (train)",
                               balance=balance, epoch_photos=args.epoch_photos)
        val = FeatureBatches(splits["val"], split[0], batch_size, description="encoder features (val)")
        print(f"frozen encoder features of {len(splits['train']) + len(splits['val'])} images computed in "
              f"{time.perf_counter() - start:.0f} s; training the rest on them")
    if replicas > 1:
        from colorize.train.distribute import EvenBatches

        train, val = EvenBatches(train, replicas), EvenBatches(val, replicas)
    pipeline_rate = training.pipeline_images_per_second(train)
    print(f"input pipeline alone (decoded images -> augmented L, ab batches): {pipeline_rate:.0f} images/s")
    try:
        history, rates = training.fit(
            trained, train, val, args.output, args.epochs, resume=args.resume, patience=args.patience,
            min_delta=args.min_delta, saved=colorizer,
        )
    except ColorizeError as error:  # a backup that does not fit this model
        return _fail(prog, f"--resume: {error}")
    if rates:
        print(
            f"training speed: {sorted(rates)[len(rates) // 2]:.1f} images/s (median over {len(rates)} epochs); "
            f"input pipeline alone: {pipeline_rate:.0f} images/s"
        )
    diverged = _diverged(history)
    if diverged or not files["model"].exists():  # status 1: the run did not do what was asked
        diverged = diverged or "no epoch ended with a finite validation loss"
        _fail(prog, f"{diverged}; {_kept_model(files, parser, args)}")
        return 1
    print(f"best model: {files['model']}  log: {files['log']}  curves: {files['plot']}")
    return 0


def _diverged(history):
    """'training diverged in epoch N (loss nan) ...' when an epoch's loss was not finite, else None."""
    for epoch, loss in zip(history.epoch, history.history.get("loss", [])):
        if not math.isfinite(loss):
            return f"training diverged in epoch {epoch + 1} (loss {loss}) and was stopped"
    return None


def _kept_model(files, parser, args):
    """Which epoch's model the best-model file holds, in words, and the command that goes on from there.

    The command works as printed: with a model kept, a new run from it (--init) into a new --output;
    without one, the same run again (nothing kept blocks it: :func:`colorize.train.runfiles.check_output`).
    Both at a lower learning rate: the family's default when the run used more, else a tenth.
    """
    from colorize.train.runfiles import read_log, run_files

    default_lr = parser.get_default("lr")
    lower = default_lr if args.lr > default_lr else args.lr / 10
    finite = [row for row in read_log(files["log"]) if math.isfinite(row.get("val_loss", math.nan))]
    best = min(finite, key=lambda row: row["val_loss"], default=None)
    if best is None or not files["model"].exists():
        again = command_line(parser, args, lr=lower)
        return f"no model was saved (no epoch ended with finite weights); start again with a lower --lr: {again}"
    model = files["model"]
    number = 2
    while any(path.exists() for path in run_files(model.with_name(f"{model.stem}-{number}.keras")).values()):
        number += 1
    onwards = command_line(parser, args, lr=lower, init=str(model),
                           output=str(model.with_name(f"{model.stem}-{number}.keras")))
    return (f"kept the model of epoch {int(best['epoch']) + 1} (val_loss {best['val_loss']:.4g}): {model}; "
            f"to go on from it with a lower --lr: {onwards}")


def main(argv=None):
    """Console script ``colorize-train``."""
    return train_command(None, argv)


if __name__ == "__main__":
    sys.exit(main())
