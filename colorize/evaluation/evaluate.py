"""Measure trained colorizers on a folder of colour photos, side by side with the gray baseline.

    python -m colorize.cli.evaluate --model simple.keras --model complex.keras --data photos/ \\
        --limit 500 --temperature 0.2 0.38 1 --json results.json --figures figs/

Each photo is turned into its grayscale (the model only gets L; the photo is
the truth), colorized by the SAME path as colorize_simple.py /
colorize_complex.py (:mod:`colorize.predict.pipeline`: working size, decoding,
ab upsampling (``--upsample`` bilinear or guided), the photo's own L), and scored at full resolution on
the image a user would see (:mod:`colorize.evaluation.metrics`). The do-nothing gray
baseline (ab = 0) is always included, because mean-error metrics flatter
dull outputs and only the comparison tells whether a model beats "no colour".
Metrics of a bins head (top-1/top-5/approximate accuracy, cross-entropy) are
measured on the network's own output grid. Nothing here depends on a model's
family; only its head (regression or bins) changes what is measured.

``--semantic`` adds Zhang et al.'s (2016) semantic interpretability: the
top-1/top-5 of a fixed ImageNet classifier (:mod:`colorize.evaluation.semantic`,
EfficientNet-Lite2 by default) on each row's full-resolution outputs, on the
gray inputs (the gray baseline row) and on the true colours, for the photos
whose parent folder names their ImageNet class (``n01440764`` or
``<source>__n01440764``); other photos are not counted for it. The
classifier sees each output's central crop at its native resolution (260 px
for Lite2); only those crops of one batch are kept, and the classifier runs
once per row per batch.

Bad inputs (missing folder, no colour photos, missing/corrupt/wrong model
file) print ``evaluate: error: PATH: reason`` and exit with status 2.
"""

import math
import time
from pathlib import Path

import numpy as np

from colorize.errors import ColorizeError
from colorize.models import BINS

# Photos per step: bounds memory (a classifier's logits are 4 MB per photo at
# 256 px) while keeping the network's batches full.
BATCH = 16
# ... and fewer when the photos are big: at most this many full-resolution pixels per step.
BATCH_PIXELS = 24_000_000
# Longest side of the thumbnails kept for the comparison grid.
THUMBNAIL_SIDE = 384
GRAY = "gray baseline"
SEMANTIC_NETS = ("lite0", "lite2")
DEFAULT_SEMANTIC_NET = "lite2"


def find_photos(sources):
    """All image files named by the ``--data`` sources; ColorizeError for a missing or empty one.

    A source is a folder (searched recursively) or a ``.txt`` file listing
    image paths one per line, relative to the list's folder or absolute (as
    written by ``python -m colorize.cli.splits --list``, e.g. a held-out split).
    """
    from colorize.io import list_images

    paths = []
    for source in sources:
        source = Path(source)
        if not source.exists():
            raise ColorizeError(source, "no such folder or list file")
        if source.is_file() and source.suffix == ".txt":
            lines = [line.strip() for line in source.read_text().splitlines()]
            found = [source.parent / line for line in lines if line and not line.startswith("#")]
        elif source.is_dir():
            found = list_images(source)
        else:
            raise ColorizeError(source, "not a folder or a .txt list of images")
        if not found:
            raise ColorizeError(source, "contains no image files")
        paths.extend(found)
    return list(dict.fromkeys(paths))


def iter_photo_batches(paths, limit, seed, batch=BATCH, skipped=None):
    """Yield lists of (path, uint8 RGB) colour photos, in a seeded random order, at most ``limit`` in all.

    A list holds ``batch`` photos or fewer when they reach BATCH_PIXELS pixels.

    Unreadable and grayscale files are skipped and counted in ``skipped[0]``.
    """
    from colorize.io import is_grayscale, read_image

    order = np.random.default_rng(seed).permutation(len(paths))
    taken, current, pixels = 0, [], 0
    for index in order:
        if limit is not None and taken >= limit:
            break
        try:
            rgb = read_image(paths[index])
        except ColorizeError:
            rgb = None
        if rgb is None or is_grayscale(rgb):
            if skipped is not None:
                skipped[0] += 1
            continue
        current.append((paths[index], rgb))
        taken += 1
        pixels += rgb.shape[0] * rgb.shape[1]
        if len(current) == batch or pixels >= BATCH_PIXELS:
            yield current
            current, pixels = [], 0
    if current:
        yield current


def model_names(paths):
    """Short, unique display names for model files: the stem, or the path where stems repeat."""
    stems = [Path(p).stem for p in paths]
    return [stem if stems.count(stem) == 1 else str(p) for stem, p in zip(stems, paths)]


def _thumbnail(image):
    import cv2

    height, width = image.shape[:2]
    scale = THUMBNAIL_SIDE / max(height, width)
    if scale >= 1:
        return image
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, target, interpolation=cv2.INTER_AREA)


class Evaluation:
    """Scores of the gray baseline and every (model, temperature) over a stream of photos."""

    def __init__(self, models, names, temperatures, size, grid_rows, paths=None, mirror=True, semantic=None,
                 upsample=None, untrained_wnids=None):
        """``semantic``: an :class:`~colorize.evaluation.semantic.ImagenetClassifier` for the semantic columns, or None.

        ``untrained_wnids``: ImageNet classes absent from the training folders (:func:`untrained_classes`);
        the semantic scores are then also reported over those classes' photos alone (``_untrained`` keys).
        """
        from colorize.evaluation.metrics import ClassifierSums, MetricAccumulator
        from colorize.evaluation.semantic import SemanticCounts

        self.models = models
        self.names = names
        self.paths = dict(zip(names, map(str, paths))) if paths is not None else {}
        self.binned = [model.head == BINS for model in models]
        # Temperatures per model: the given ones, else the model's own default (what the CLIs use).
        self.temperatures = {
            name: ((temperatures or [model.temperature]) if binned else [None])
            for name, model, binned in zip(names, models, self.binned)
        }
        self.size = size
        self.mirror = mirror
        self.upsample = upsample  # the models' ab upsampling (colorize.predict.upsample); None: its default
        # The grid shows each classifier at its own default temperature when it is evaluated, else the first one.
        self.grid_temperature = {
            name: model.temperature if model.temperature in self.temperatures[name] else self.temperatures[name][0]
            for name, model in zip(names, models)
        }
        self.grid_rows = grid_rows
        self.grid = []
        self.truth_colourfulness = []
        self.rows = {(GRAY, None): MetricAccumulator()}
        self.classifier = {}
        for name, binned in zip(names, self.binned):
            for temperature in self.temperatures[name]:
                self.rows[(name, temperature)] = MetricAccumulator()
            if binned:
                self.classifier[name] = ClassifierSums()
        self.semantic = semantic
        # Top-1/top-5 hits per row key and on the truth ("truth" key), over the photos of a known class.
        self.semantic_counts = {key: SemanticCounts() for key in [*self.rows, "truth"]} if semantic is not None else {}
        self.untrained_indices = None
        if semantic is not None and untrained_wnids:
            from colorize.evaluation.semantic import wnid_to_index

            self.untrained_indices = {wnid_to_index()[wnid] for wnid in untrained_wnids if wnid in wnid_to_index()}
        self.untrained_counts = {key: SemanticCounts() for key in self.semantic_counts} if self.untrained_indices else {}
        self.semantic_seconds = 0.0  # time spent on it: crops + classifier

    def add_batch(self, photos):
        """Score every model on a list of (path, uint8 RGB) photos.

        One forward pass per model for the batch; then photo by photo, so only
        one photo's full-resolution outputs and truth are in memory at a time.
        """
        from colorize.predict.pipeline import compose, decode, lightness_of, predict_raw
        from colorize.evaluation.metrics import Truth

        lightness = [lightness_of(rgb) for _, rgb in photos]
        raws = [predict_raw(model, lightness, size=self.size, mirror=self.mirror) for model in self.models]
        no_colour = np.zeros((1, 1, 2), np.float32)
        grid_keys = self.grid_keys()
        classes = self._classes_of(photos)
        # This batch's classifier inputs (small central crops) per row key, for the photos of a known class.
        crops = {key: [] for key in self.semantic_counts}
        for i, ((_, rgb), lum) in enumerate(zip(photos, lightness)):
            truth = Truth.of(rgb, lum)
            self.truth_colourfulness.append(truth.colourfulness)
            keep = len(self.grid) < self.grid_rows
            labelled = classes[i] is not None
            shown = {}
            gray = compose(lum, no_colour)  # the baseline: the photo's own L, ab = 0
            self.rows[(GRAY, None)].add(gray, truth)
            if labelled:
                self._crop(crops, "truth", rgb)
                self._crop(crops, (GRAY, None), gray)
            for name, model, binned, model_raws in zip(self.names, self.models, self.binned, raws):
                raw = model_raws[i]
                if binned:
                    self.classifier[name].add(raw, self._grid_truth(truth.ab, raw.shape[:2], model.output_stride))
                for temperature in self.temperatures[name]:
                    output = compose(lum, decode(model, raw, temperature), upsample=self.upsample)
                    self.rows[(name, temperature)].add(output, truth)
                    if labelled:
                        self._crop(crops, (name, temperature), output)
                    if keep and (name, temperature) in grid_keys:
                        shown[(name, temperature)] = _thumbnail(output)
            if keep:
                self.grid.append([_thumbnail(gray)] + [shown[key] for key in grid_keys] + [_thumbnail(rgb)])
        self._classify(crops, [index for index in classes if index is not None])

    def _classes_of(self, photos):
        """ImageNet class index of each photo from its parent folder's name (None: unknown, or no --semantic)."""
        if self.semantic is None:
            return [None] * len(photos)
        from colorize.evaluation.semantic import wnid_of_folder, wnid_to_index

        wnids = [wnid_of_folder(Path(path).parent) for path, _ in photos]
        return [None if wnid is None else wnid_to_index()[wnid] for wnid in wnids]

    def _crop(self, crops, key, image):
        start = time.perf_counter()
        crops[key].append(self.semantic.prepare(image))
        self.semantic_seconds += time.perf_counter() - start

    def _classify(self, crops, truth):
        """One classifier run per row key over this batch's crops; the hits go to semantic_counts."""
        if not truth:
            return
        from colorize.evaluation.semantic import top_k

        start = time.perf_counter()
        truth = np.asarray(truth)
        untrained = np.array([index in (self.untrained_indices or ()) for index in truth], bool)
        for key, images in crops.items():
            predicted = top_k(self.semantic.logits_of_prepared(images), 5)
            self.semantic_counts[key].add(predicted, truth)
            if self.untrained_counts and untrained.any():
                self.untrained_counts[key].add(predicted[untrained], truth[untrained])
        self.semantic_seconds += time.perf_counter() - start

    @property
    def semantic_photos(self):
        """How many photos the semantic columns count (those of a known ImageNet class); None without --semantic."""
        return self.semantic_counts["truth"].photos if self.semantic is not None else None

    def semantic_truth(self):
        """{"semantic_top1", "semantic_top5"} (and their ``_untrained`` twins) of the classifier on the true
        colours (empty when none counted)."""
        if self.semantic is None:
            return {}
        return {**self.semantic_counts["truth"].summary(), **self._untrained_summary("truth")}

    @property
    def untrained_photos(self):
        """How many photos of untrained classes the ``_untrained`` semantic scores count (None: not measured)."""
        return self.untrained_counts["truth"].photos if self.untrained_counts else None

    def _untrained_summary(self, key):
        if not self.untrained_counts:
            return {}
        return {f"{name}_untrained": value for name, value in self.untrained_counts[key].summary().items()}

    def _grid_truth(self, ab_full, grid_shape, stride):
        """Truth ab at a bins head's grid: area-resized to the working size, then pooled as in the loss."""
        import cv2

        from colorize.evaluation.metrics import pool_ab

        # The network input this model ran at, as predict_raw resized L to it.
        height, width = grid_shape[0] * stride, grid_shape[1] * stride
        ab = cv2.resize(np.ascontiguousarray(ab_full, np.float32), (width, height), interpolation=cv2.INTER_AREA)
        return pool_ab(ab, stride)

    def grid_keys(self):
        return [
            (name, self.grid_temperature[name]) for name in self.names
        ]

    def grid_titles(self):
        titles = ["input (gray = baseline)"]
        for name, binned in zip(self.names, self.binned):
            titles.append(f"{name} T={self.grid_temperature[name]:g}" if binned else name)
        return titles + ["truth"]

    def results(self):
        """List of result dicts, gray baseline first, then each model (and temperature).

        ``head`` is "gray" for the baseline, else the model's head; ``family``
        its family (None for the baseline).
        """
        by_name = dict(zip(self.names, self.models))
        rows = []
        for (name, temperature), accumulator in self.rows.items():
            model = by_name.get(name)
            row = {
                "model": name,
                "path": self.paths.get(name),
                "family": None if model is None else model.family,
                "head": "gray" if model is None else model.head,
                "temperature": temperature,
            }
            row.update(accumulator.summary())
            if name in self.classifier:
                row.update(self.classifier[name].summary())
            if self.semantic is not None:
                row.update(self.semantic_counts[(name, temperature)].summary())
                row.update(self._untrained_summary((name, temperature)))
            rows.append(row)
        return rows


# ----------------------------------------------------------------------------- reporting
_COLUMNS = [
    ("auc", "AuC", "{:.3f}"),
    ("auc_rebalanced", "AuC-rb", "{:.3f}"),
    ("psnr", "PSNR", "{:.2f}"),
    ("ssim", "SSIM", "{:.3f}"),
    ("colourfulness_ratio", "colour", "{:.2f}"),
    ("false_colour", "false", "{:.3f}"),
    ("mse_ab", "MSE-ab", "{:.1f}"),
    ("r2_ab", "R2-ab", "{:.3f}"),
    ("lightness_error", "|dL|", "{:.2f}"),
    ("top1", "top1", "{:.3f}"),
    ("top5", "top5", "{:.3f}"),
    ("approx_accuracy", "approx", "{:.3f}"),
    ("cross_entropy", "CE", "{:.3f}"),
    ("semantic_top1", "sem1", "{:.3f}"),
    ("semantic_top5", "sem5", "{:.3f}"),
    ("semantic_top1_untrained", "sem1-new", "{:.3f}"),
]


def format_table(results, truth, semantic=None):
    """Compact text table of the result rows (one line each) with a legend.

    ``semantic``: None, or {"net": display name, "photos": counted, "images": all photos} when the
    semantic columns are measured (``truth`` then holds ``semantic_top1``/``semantic_top5``).
    """
    has_classifier = any(row["head"] == BINS for row in results)
    classifier_only = ("top1", "top5", "approx_accuracy", "cross_entropy")
    has_semantic = any("semantic_top1" in row for row in results)
    semantic_only = ("semantic_top1", "semantic_top5", "semantic_top1_untrained")
    columns = [
        c for c in _COLUMNS
        if (has_classifier or c[0] not in classifier_only) and (has_semantic or c[0] not in semantic_only)
        and (c[0] != "semantic_top1_untrained" or any(c[0] in row for row in results))
    ]
    header = ["model", "T"] + [title for _, title, _ in columns]
    lines = []
    for row in results:
        cells = [row["model"], "-" if row["temperature"] is None else f"{row['temperature']:g}"]
        for key, _, fmt in columns:
            value = row.get(key)
            missing = value is None or (isinstance(value, float) and math.isnan(value))
            cells.append("-" if missing else fmt.format(value))
        lines.append(cells)
    widths = [max(len(str(x)) for x in column) for column in zip(header, *lines)]
    render = lambda cells: "  ".join(  # noqa: E731
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
    )
    text = [render(header), render(["-" * w for w in widths])] + [render(cells) for cells in lines]
    text.append(
        f"truth colourfulness {truth['colourfulness']:.1f} (std {truth['colourfulness_std']:.1f}); "
        "colour = output/truth colourfulness ratio; AuC over ab error thresholds 0-150, rb = class-rebalanced;"
    )
    legend = ("|dL| = mean |L_out - L_in|; MSE/R2 of ab in Lab units; false = false colour: of the truly neutral"
              " pixels (true chroma < 6), the fraction painted (output chroma > 15)")
    if has_classifier:
        legend += "; top1/top5/approx/CE on the classifier's output grid, not full resolution"
    text.append(legend)
    if has_semantic and semantic:
        text.append(
            f"sem1/sem5 = ImageNet top-1/top-5 of {semantic['net']} on the outputs (gray baseline: on the gray"
            f" inputs), over the {semantic['photos']} of {semantic['images']} photo(s) of a known ImageNet class;"
            f" on the true colours top-1 {truth['semantic_top1']:.3f}, top-5 {truth['semantic_top5']:.3f}"
        )
        if semantic.get("untrained"):
            text.append(
                f"sem1-new = sem1 over the {semantic['untrained']} photo(s) of classes absent from the training folders"
                f" (classes.tsv); on the true colours {truth.get('semantic_top1_untrained', float('nan')):.3f}"
            )
    return "\n".join(text)


def json_safe(value):
    """JSON has no inf/nan: such values become null."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def same_network_as(names, models, variant):
    """Names of the models whose builder options name the EfficientNet-``variant`` backbone (e.g. a U-Net's encoder)."""
    backbone = f"efficientnet_{variant}"
    return [name for name, model in zip(names, models)
            if backbone in (str(value) for value in (getattr(model, "options", None) or {}).values())]


def untrained_classes(sources):
    """wnids marked ``in_training_folders`` = no in a ``classes.tsv`` at the top of any ``--data`` folder.

    ``imagenet_val/classes.tsv`` says which of its classes the training folders hold; the semantic
    scores on the others tell whether colour helps on kinds of things a model never saw. Empty set
    when no such file is there.
    """
    import csv

    found = set()
    for source in sources:
        table = Path(source) / "classes.tsv"
        if not table.is_file():
            continue
        with open(table, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter="\t"):
                if str(row.get("in_training_folders", "")).strip().lower() == "no" and row.get("wnid"):
                    found.add(row["wnid"].strip())
    return found
