"""Where training photos live between epochs: decoded in RAM, or read from disk batch by batch.

``--cache ram`` decodes every photo once into a uint8 array (fast epochs,
memory N x S x S x 3 bytes: 16 k photos at 64 px are 200 MB, Places365's
1.8 M photos at 128 px are 88 GB). ``--cache none`` keeps only the file
paths and decodes each batch when it is asked for, in ``workers`` threads of
a ``keras.utils.PyDataset`` (OpenCV releases the GIL while it decodes,
resizes and warps, so threads run in parallel; no TensorFlow needed, so JAX
trains the same way). ``--cache auto`` picks RAM when the decoded photos fit
a memory budget (default: half of the memory available when training starts).

Both modes give the same batches: the split is the same seeded hash of the
relative paths (:func:`colorize.train.data.split_paths`), the epoch order is the
same seeded permutation, and the augmentation draws from the same
``[seed, epoch, batch]`` generator, so a batch streamed from disk equals the
batch cut from RAM whenever every file is readable (tests check this). A
grayscale or unreadable file, which RAM mode drops before training, is
dropped from its batch when streaming meets it (one warning line per epoch).
"""

import math
import os
import sys
import threading

import numpy as np

from colorize.train.data import (
    DEFAULT_FRACTIONS,
    LabBatches,
    decode_for_training,
    folder_split_paths,
    load_images,
    random_affine,
    to_l_ab_batch,
)
from colorize.errors import ColorizeError

CACHE_MODES = ("auto", "ram", "none")
# --cache auto keeps the decoded photos in RAM when they take at most this share of the available memory:
# the rest is for the model, its activations and the input queue.
DEFAULT_MEMORY_SHARE = 0.5
# Photos decoded to estimate a bins head's colour prior when streaming: enough for
# colorize.rebalance.prior_from_rgb's 2-megapixel sample at any training size.
PRIOR_PIXELS = 2_000_000


# ----------------------------------------------------------------------------- choosing
def available_memory_bytes():
    """Memory the system can give this process now (Linux MemAvailable, else the physical total), or None."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def decoded_bytes(count, size):
    """RAM that ``count`` photos decoded at ``size`` px (uint8 RGB) take."""
    return int(count) * int(size) * int(size) * 3


def choose_cache(mode, count, size, budget_bytes=None):
    """Resolve ``--cache``: (``"ram"`` or ``"none"``, a one-line reason).

    ``mode``: one of CACHE_MODES. ``count``: photo files to decode (all
    splits). ``budget_bytes``: what ``auto`` may fill (None:
    DEFAULT_MEMORY_SHARE of :func:`available_memory_bytes`).
    """
    if mode not in CACHE_MODES:
        raise ValueError(f"cache mode must be one of {', '.join(CACHE_MODES)}, got {mode!r}")
    need = decoded_bytes(count, size)
    if mode != "auto":
        return mode, f"--cache {mode}"
    if budget_bytes is None:
        available = available_memory_bytes()
        if available is None:  # nothing known: RAM, as before streaming existed
            return "ram", "memory size unknown"
        budget_bytes = available * DEFAULT_MEMORY_SHARE
    fits = need <= budget_bytes
    verdict = "fit" if fits else "do not fit"
    reason = f"{count} decoded photos ({_gib(need)}) {verdict} the memory budget ({_gib(budget_bytes)})"
    return ("ram" if fits else "none"), reason


def _gib(count):
    """Bytes in words: MiB below a GiB (a small folder is not '0.00 GiB')."""
    return f"{count / 2**30:.2f} GiB" if count >= 2**30 else f"{count / 2**20:.1f} MiB"


# ----------------------------------------------------------------------------- prior sample
def prior_sample(paths, size, seed=0, max_pixels=PRIOR_PIXELS):
    """uint8 (N, size, size, 3): a seeded sample of photos, enough pixels for a colour prior.

    RAM mode computes a bins head's prior from every training photo (itself a
    sample of ``max_pixels`` pixels); streaming decodes only as many photos
    as that sample needs, so the two priors agree closely, not exactly.
    """
    wanted = min(len(paths), max(1, math.ceil(max_pixels / (size * size))))
    chosen = np.sort(np.random.default_rng(seed).choice(len(paths), size=wanted, replace=False))
    return load_images([paths[i] for i in chosen], size, progress=False)


# ----------------------------------------------------------------------------- batches
class PathBatches(LabBatches):
    """Batches of (L (B, S, S, 1) in [0, 100], ab (B, S, S, 2) in Lab units), decoded from files per batch.

    The streaming twin of :class:`colorize.train.data.LabBatches` (same order,
    augmentation and output for readable files). Files that are grayscale or
    unreadable are dropped from their batch; a batch left with no photo takes
    the next readable ones in the epoch's order instead (never an empty
    batch). Skipped files are remembered (not decoded again) and reported in
    one warning line at the end of the epoch.

    Args:
        paths: photo files (any size; centre-cropped and resized to ``size``).
        size: training size S in pixels.
        batch_size: photos per batch (the last batch may be smaller).
        augment, shuffle, seed: as LabBatches.
        labels: None, or int class indices (N,) aligned with ``paths``:
            batches are then (L, (ab, labels (B,))), as LabBatches makes them.
        **kwargs: ``workers`` (threads decoding batches in parallel),
            ``use_multiprocessing``, ``max_queue_size`` for PyDataset. With
            processes, skipped files are not reported (each worker has its
            own memory).
    """

    def __init__(self, paths, size, batch_size=32, augment=False, shuffle=False, seed=0, labels=None, **kwargs):
        # LabBatches keeps the order, the epoch count and the labels; only fetching a photo differs.
        super().__init__(list(paths), batch_size, augment=augment, shuffle=shuffle, seed=seed,
                         labels=None if labels is None else np.asarray(labels), **kwargs)
        self.paths = self.images
        self.size = int(size)
        self._skipped = set()  # indices into paths; set.add is atomic, so worker threads may share it
        self._reported = 0
        self._lock = threading.Lock()

    def _decode(self, index):
        """uint8 (S, S, 3) of paths[index], or None (grayscale, unreadable)."""
        if index in self._skipped:
            return None
        try:
            rgb = decode_for_training(self.paths[index], self.size)
        except Exception:  # noqa: BLE001 - any failure of one file (OSError, cv2.error) only skips it
            rgb = None
        if rgb is None:
            self._skipped.add(index)
        return rgb

    def __getitem__(self, index):
        chosen = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        kept, photos = self._readable(chosen)
        if not photos:
            start = (index + 1) * self.batch_size  # the next photos in this epoch's order, wrapping round
            kept, photos = self._readable(np.roll(self._order, -start), limit=self.batch_size)
        if not photos:
            raise ColorizeError(self.paths[0], "none of the training photos is a readable colour image")
        batch = np.stack(photos)
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            batch = np.stack([random_affine(im, rng) for im in batch])
        lightness, ab = to_l_ab_batch(batch)
        return (lightness, ab) if self.labels is None else (lightness, (ab, self.labels[kept]))

    def _readable(self, indices, limit=None):
        """(indices kept, their uint8 photos) of the readable colour photos among ``indices`` (at most ``limit``)."""
        kept, photos = [], []
        for index in indices:
            photo = self._decode(index)
            if photo is not None:
                kept.append(index)
                photos.append(photo)
                if limit is not None and len(photos) == limit:
                    break
        return np.array(kept, np.int64), photos

    def on_epoch_end(self):
        self.report_skipped()
        super().on_epoch_end()

    def report_skipped(self):
        """One warning line for files skipped since the last report."""
        with self._lock:
            skipped = sorted(self._skipped)
            if len(skipped) <= self._reported:
                return
            new = len(skipped) - self._reported
            self._reported = len(skipped)
        examples = ", ".join(str(self.paths[i]) for i in skipped[:3])
        print(
            f"warning: skipped {new} more of {len(self.paths)} streamed files (grayscale or unreadable; "
            f"{len(skipped)} in all), e.g. {examples}",
            file=sys.stderr,
        )


# ----------------------------------------------------------------------------- one entry point
class TrainingPhotos:
    """The train/val/test photos of one run, in RAM (uint8 arrays) or as file lists (streaming).

    ``splits[name]`` is a uint8 (N, S, S, 3) array in RAM mode and a list of
    paths when streaming; ``len`` works on both. :meth:`batches` makes the
    matching PyDataset; :meth:`prior_images` gives photos for a colour prior.
    ``labels``: None, or dict split -> int32 class index per photo (aligned
    with ``splits``), with ``class_names``; batches then carry them.
    """

    def __init__(self, splits, size, mode, reason="", labels=None, class_names=None):
        self.splits = splits
        self.size = size
        self.mode = mode
        self.reason = reason
        self.labels = labels
        self.class_names = class_names

    @property
    def streaming(self):
        return self.mode == "none"

    def __getitem__(self, name):
        return self.splits[name]

    def batches(self, name, batch_size, augment=False, shuffle=False, seed=0, **kwargs):
        """A PyDataset of (L, ab) batches of split ``name`` (kwargs: workers, ... for PyDataset)."""
        labels = None if self.labels is None else self.labels[name]
        if self.streaming:
            return PathBatches(self.splits[name], self.size, batch_size, augment=augment, shuffle=shuffle,
                               seed=seed, labels=labels, **kwargs)
        return LabBatches(self.splits[name], batch_size, augment=augment, shuffle=shuffle, seed=seed,
                          labels=labels, **kwargs)

    def prior_images(self, seed=0):
        """uint8 RGB (N, S, S, 3) training photos for a colour prior: all of them, or a sample when streaming."""
        if self.streaming:
            return prior_sample(self.splits["train"], self.size, seed)
        return self.splits["train"]


def load_training_photos(sources, size, fractions=DEFAULT_FRACTIONS, seed=0, cache="auto", budget_bytes=None,
                         progress=True, labels=False):
    """``sources`` (folders, or ["cifar10"]) -> :class:`TrainingPhotos` for ``--cache`` ``cache``.

    CIFAR-10 comes from Keras as one array, so it is always in RAM. Folders
    are listed and split first (cheap); then the photos are decoded into RAM
    (``ram``, or ``auto`` within ``budget_bytes``) or left on disk.
    ``labels``: also give each photo's class (its folder's name, see
    :func:`colorize.train.data.class_labels`). Raises OSError / ValueError as
    :func:`colorize.train.data.folder_splits`.
    """
    from colorize.train.data import cifar10_splits, class_labels, folder_splits

    if len(sources) == 1 and str(sources[0]).lower() == "cifar10":
        if labels:
            raise ValueError("class labels come from image folders, not cifar10")
        reason = "CIFAR-10 is loaded by Keras as one array" + ("" if cache == "ram" else f" (--cache {cache} ignored)")
        return TrainingPhotos(cifar10_splits(size, fractions, seed), size, "ram", reason)
    if cache != "ram":  # the listing tells auto how many photos there are (ram lists them only once, below)
        parts = folder_split_paths(sources, fractions, seed)
        cache, reason = choose_cache(cache, sum(len(p) for p in parts.values()), size, budget_bytes)
        if cache == "none":  # a bad file is dropped with its label when a batch meets it
            split_labels, names = class_labels(parts) if labels else (None, None)
            return TrainingPhotos(parts, size, "none", reason, split_labels, names)
    else:
        reason = "--cache ram"
    splits = folder_splits(sources, size, fractions, seed, progress, labels=labels)
    if labels:
        splits, split_labels, names = splits
        return TrainingPhotos(splits, size, "ram", reason, split_labels, names)
    return TrainingPhotos(splits, size, "ram", reason)
