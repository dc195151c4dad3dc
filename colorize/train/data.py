"""Training data: image folders and CIFAR-10, splits, augmentation, (L, ab) batches.

Every model eats the same batches:

    x: L   (B, S, S, 1) float32 in [0, 100]
    y: ab  (B, S, S, 2) float32 in Lab units, about [-128, 127]

(every model normalises L inside its graph and returns ab in Lab units).

Images are decoded once into a uint8 array at the training size; per-batch
work (augmentation, Lab conversion) runs in a ``keras.utils.PyDataset``, which
needs no TensorFlow, so the same code trains on the JAX backend too.
"""

import hashlib
import math
import sys

import cv2
import keras
import numpy as np

from colorize import color
from colorize.errors import ColorizeError
from colorize.io import is_grayscale, list_images, read_image

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)


# ----------------------------------------------------------------------------- splits
def split_items(keys, fractions=DEFAULT_FRACTIONS, seed=0):
    """Deterministic, disjoint train/val/test split of ``keys`` (strings).

    Items are ordered by a seeded hash of their key and cut at the exact
    fractions, so the split depends only on the set of keys and the seed (not
    on the order files were listed in), and validation gets at least one item
    when there are three or more. Returns a dict split name -> sorted list of
    indices into ``keys``.
    """
    if not math.isclose(sum(fractions), 1.0, abs_tol=1e-6) or min(fractions) < 0:
        raise ValueError(f"split fractions must be non-negative and sum to 1, got {fractions}")
    order = sorted(range(len(keys)), key=lambda i: hashlib.sha1(f"{seed}:{keys[i]}".encode()).hexdigest())
    n = len(keys)
    n_val = int(round(fractions[1] * n))
    n_test = int(round(fractions[2] * n))
    if n >= 3 and fractions[1] > 0:
        n_val = max(n_val, 1)
    n_train = n - n_val - n_test
    cuts = {"train": order[:n_train], "val": order[n_train : n_train + n_val], "test": order[n_train + n_val :]}
    return {name: sorted(idx) for name, idx in cuts.items()}


def split_paths(paths, root=None, fractions=DEFAULT_FRACTIONS, seed=0):
    """Split image paths (keys are paths relative to ``root`` when given) -> dict of path lists."""
    keys = [str(p.relative_to(root)) if root is not None else str(p) for p in paths]
    return {name: [paths[i] for i in idx] for name, idx in split_items(keys, fractions, seed).items()}


# ----------------------------------------------------------------------------- decoding
def square_resize(rgb, size):
    """Centre-crop uint8 RGB (H, W, 3) to a square and resize to (size, size, 3)."""
    height, width = rgb.shape[:2]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    crop = rgb[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def decode_for_training(path, size):
    """Path -> uint8 RGB (size, size, 3), or None for unreadable or grayscale files.

    IMREAD_COLOR applies the EXIF orientation (as inference does) and gives
    3 equal channels for grayscale files, which :func:`is_grayscale` then skips.
    """
    # read_image: the same checks as colorizing (truncated data, EXIF orientation, transparency
    # on white, 16-bit and float files) and no decoder messages printed from loader threads.
    try:
        rgb = read_image(path, min_side=1)
    except ColorizeError:
        return None
    if is_grayscale(rgb):
        return None
    return square_resize(rgb, size)


def _warn_skipped(skipped, total):
    """One warning line on stderr for all files a training run had to skip."""
    if skipped:
        examples = ", ".join(str(p) for p in skipped[:3])
        print(
            f"warning: skipped {len(skipped)} of {total} files (grayscale or unreadable), e.g. {examples}",
            file=sys.stderr,
        )


def _decode_all(paths, size, progress, description):
    """Decode ``paths`` -> (uint8 (N, size, size, 3) of the usable ones, list of skipped paths)."""
    from tqdm.auto import tqdm

    images, skipped = [], []
    for path in tqdm(paths, desc=description, unit="img", disable=not progress, leave=False):
        try:
            rgb = decode_for_training(path, size)
        except (OSError, cv2.error):
            rgb = None
        if rgb is None:
            skipped.append(path)
        else:
            images.append(rgb)
    array = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return array, skipped


def load_images(paths, size, progress=True, description="decoding"):
    """Decode image files into one uint8 array (N, size, size, 3).

    Grayscale and unreadable files are skipped and counted in ONE warning line
    (a training folder with a few bad files must not stop a long run).
    """
    images, skipped = _decode_all(paths, size, progress, description)
    _warn_skipped(skipped, len(paths))
    return images


def folder_split_paths(folders, fractions=DEFAULT_FRACTIONS, seed=0):
    """One or more image folders -> dict split -> list of photo paths (not decoded).

    The split is made per folder on relative paths, so adding a folder never
    moves another folder's files between splits; RAM and streamed training
    (:mod:`colorize.train.photos`) both start from this listing.
    """
    parts = {name: [] for name in SPLITS}
    for folder in folders:
        for name, chosen in split_paths(list_images(folder), root=folder, fractions=fractions, seed=seed).items():
            parts[name].extend(chosen)
    return parts


def folder_splits(folders, size, fractions=DEFAULT_FRACTIONS, seed=0, progress=True, labels=False):
    """One or more image folders (nested class folders included) -> dict split -> uint8 images.

    The split is :func:`folder_split_paths`'s. Bad files are counted in one
    warning for the whole run. ``labels``: also return each kept photo's class,
    see :func:`class_labels` (then the result is (images, labels, class names)).
    """
    parts = folder_split_paths(folders, fractions, seed)
    result, skipped, kept = {}, [], {}
    for name in SPLITS:
        result[name], bad = _decode_all(parts[name], size, progress, f"decoding {name}")
        skipped.extend(bad)
        bad = set(bad)
        kept[name] = [path for path in parts[name] if path not in bad]
    _warn_skipped(skipped, sum(len(p) for p in parts.values()))
    return (result, *class_labels(kept)) if labels else result


def class_labels(paths_by_split):
    """The class of each photo: the name of its folder (Imagenette wnids, ``caltech101__accordion``, ...).

    ``paths_by_split``: dict split -> list of paths. Returns (dict split ->
    int32 class indices, sorted list of class names); the indices count over
    the names of every split, so a class seen only in validation still has one.
    """
    from pathlib import Path

    names = sorted({Path(p).parent.name for paths in paths_by_split.values() for p in paths})
    index = {name: i for i, name in enumerate(names)}
    return {split: np.array([index[Path(p).parent.name] for p in paths], np.int32)
            for split, paths in paths_by_split.items()}, names


def cifar10_splits(size=32, fractions=DEFAULT_FRACTIONS, seed=0, loader=None):
    """CIFAR-10 (train + test, 60,000 images) as dict split -> uint8 (N, size, size, 3).

    ``loader`` defaults to ``keras.datasets.cifar10.load_data`` (downloads on
    first use, as on Colab); tests pass a function returning small arrays.
    """
    loader = loader or keras.datasets.cifar10.load_data
    try:
        (x_train, _), (x_test, _) = loader()
    except Exception as error:  # Keras raises a bare Exception when the download fails
        raise OSError(f"CIFAR-10 could not be loaded: {error}") from error
    images = np.concatenate([x_train, x_test]).astype(np.uint8)
    if size != images.shape[1]:
        images = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR) for im in images])
    keep = np.array([not is_grayscale(im) for im in images], bool)
    if not keep.all():
        print(f"warning: skipped {int((~keep).sum())} grayscale CIFAR-10 images", file=sys.stderr)
    images = images[keep]
    split = split_items([str(i) for i in range(len(images))], fractions, seed)
    return {name: images[idx] for name, idx in split.items()}


# ----------------------------------------------------------------------------- augmentation
def random_affine(rgb, rng, zoom=0.2, rotation=20.0, shear=0.2, flip=True):
    """Random zoom, rotation (degrees), shear and horizontal flip of uint8 RGB (S, S, 3).

    Applied to the RGB image before the Lab conversion, so L and ab move
    together and stay aligned by construction. Borders are reflected so no
    black (colourless) corners enter training.
    """
    size = rgb.shape[0]
    centre = np.array([size / 2.0, size / 2.0])
    scale = rng.uniform(1.0 - zoom, 1.0 + zoom)
    angle = np.deg2rad(rng.uniform(-rotation, rotation))
    shear_amount = rng.uniform(-shear, shear)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shear_matrix = np.array([[1.0, shear_amount], [0.0, 1.0]])
    linear = scale * rotate @ shear_matrix
    if flip and rng.random() < 0.5:
        linear = linear @ np.diag([-1.0, 1.0])
    matrix = np.hstack([linear, (centre - linear @ centre)[:, None]])
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def to_l_ab_batch(rgb_batch):
    """uint8 RGB (B, S, S, 3) -> (L (B, S, S, 1) in [0, 100], ab (B, S, S, 2) in Lab units), float32."""
    lightness, ab = color.rgb_to_l_ab(rgb_batch)
    return lightness.astype(np.float32), ab.astype(np.float32)


def epoch_order(count, shuffle, seed, epoch, balance=None, draws=None):
    """Indices of the photos one epoch shows, in order.

    ``shuffle`` False: 0..count-1. Else a permutation seeded by (seed, epoch);
    with ``balance`` (int class index per photo) instead ``draws`` (default
    ``count``) draws in which every class is equally likely (photos of a class
    equally likely within it), so a few large classes no longer make up most
    of an epoch. ``draws`` without ``balance``: the first ``draws`` of the
    permutation (a shorter epoch).
    """
    if not shuffle:
        return np.arange(count)
    rng = np.random.default_rng([seed, epoch])
    draws = count if draws is None else int(draws)
    if balance is None:
        return rng.permutation(count)[:draws]
    _, inverse, sizes = np.unique(np.asarray(balance), return_inverse=True, return_counts=True)
    weights = 1.0 / sizes[inverse]
    return rng.choice(count, size=draws, replace=True, p=weights / weights.sum())


class _EpochBatches(keras.utils.PyDataset):
    """What every batch sequence shares: the epoch's photo order (shuffled, class-balanced, shortened),
    its length in batches, and a new order after every epoch."""

    def _start_epochs(self, count, batch_size, shuffle, seed, balance, epoch_photos):
        self.count = count
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.seed = seed
        self.balance = balance
        self.epoch_photos = epoch_photos
        self.epoch = 0
        self._order = self._make_order()

    def _make_order(self):
        return epoch_order(self.count, self.shuffle, self.seed, self.epoch, self.balance, self.epoch_photos)

    def __len__(self):
        return math.ceil(len(self._order) / self.batch_size)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._make_order()


class LabBatches(_EpochBatches):
    """Batches of (L, ab) (see :func:`to_l_ab_batch`) from a uint8 image array.

    Args:
        images: uint8 (N, S, S, 3) RGB, S divisible by the model's stride.
        batch_size: images per batch (the last batch may be smaller).
        augment: random zoom/rotation/shear/flip (training only).
        shuffle: reshuffle the order every epoch (training only).
        seed: makes the order and the augmentation reproducible per epoch.
        labels: None, or int class indices (N,): batches are then
            (L, (ab, labels (B,))) for a model with a class output.
        balance: None, or int class index per photo: shuffled epochs draw
            every class equally often (:func:`epoch_order`).
        epoch_photos: photos a shuffled epoch shows (None: as many as there are).
        **kwargs: ``workers``, ``use_multiprocessing``, ``max_queue_size`` for PyDataset.
    """

    def __init__(self, images, batch_size=32, augment=False, shuffle=False, seed=0, labels=None, balance=None,
                 epoch_photos=None, **kwargs):
        super().__init__(**kwargs)
        if len(images) == 0:
            raise ValueError("no images to make batches from")
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images")
        self.images = images
        self.labels = labels
        self.augment = augment
        self._start_epochs(len(images), batch_size, shuffle, seed, balance, epoch_photos)

    def __getitem__(self, index):
        chosen = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        batch = self.images[chosen]
        if self.augment:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            batch = np.stack([random_affine(im, rng) for im in batch])
        lightness, ab = to_l_ab_batch(batch)
        return (lightness, ab) if self.labels is None else (lightness, (ab, self.labels[chosen]))


class FeatureBatches(_EpochBatches):
    """Batches of ([L, *frozen encoder features], ab) for training the part of a model after its encoder.

    A frozen pretrained encoder gives the same features every epoch, so they
    are computed once here, with each photo's L and ab (float16 in memory:
    about 200 KB a photo for EfficientNet-Lite0 at 128 px, L and ab
    included) and the trainable rest learns on them at
    its own speed. Only horizontal flips stay cheap as augmentation: the
    photo, its ab and every feature map are mirrored together (the encoder
    is nearly, not exactly, mirror-equivariant; the global embedding is
    kept as it is).

    Args:
        images: uint8 (N, S, S, 3) RGB.
        encoder: keras.Model, L (B, S, S, 1) in [0, 100] -> one array or a list.
        batch_size: photos per batch.
        flip: mirror each photo left-right with probability 1/2 (training).
        shuffle, seed, balance, epoch_photos: as :class:`LabBatches`.
        progress: a progress bar while the features are computed.
        **kwargs: for PyDataset (workers, ...).
    """

    def __init__(self, images, encoder, batch_size=32, flip=False, shuffle=False, seed=0, progress=True,
                 description="encoder features", balance=None, epoch_photos=None, **kwargs):
        super().__init__(**kwargs)
        if len(images) == 0:
            raise ValueError("no images to make batches from")
        self.flip = flip
        # The photos themselves are not kept: their Lab is (the caller may drop them).
        self.features = self._encode(images, encoder, progress, description)
        self._start_epochs(len(images), batch_size, shuffle, seed, balance, epoch_photos)

    def _encode(self, images, encoder, progress, description, chunk=64):
        """Lab of every photo and the encoder's outputs, once: float16 arrays, batch-first."""
        from tqdm.auto import tqdm

        count = len(images)
        size = images.shape[1:3]
        self.lightness = np.empty((count, *size, 1), np.float16)
        self.ab = np.empty((count, *size, 2), np.float16)
        stored = None
        for start in tqdm(range(0, count, chunk), desc=description, unit="batch", disable=not progress, leave=False):
            lightness, ab = to_l_ab_batch(images[start : start + chunk])
            self.lightness[start : start + len(lightness)] = lightness
            self.ab[start : start + len(ab)] = ab
            outputs = encoder.predict_on_batch(lightness)
            outputs = [np.asarray(o) for o in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]
            if stored is None:
                stored = [np.empty((count,) + o.shape[1:], np.float16) for o in outputs]
            for target, output in zip(stored, outputs):
                target[start : start + len(output)] = output
        return stored

    def __getitem__(self, index):
        chosen = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        arrays = [self.lightness[chosen], self.ab[chosen]] + [f[chosen] for f in self.features]
        arrays = [a.astype(np.float32) for a in arrays]
        if self.flip:
            mirrored = np.random.default_rng([self.seed, self.epoch, index]).random(len(chosen)) < 0.5
            for array in arrays:
                if array.ndim == 4:  # maps are mirrored; the global embedding is not
                    array[mirrored] = array[mirrored, :, ::-1]
        lightness, ab, *features = arrays
        return tuple([lightness] + features), ab


def write_split_list(folders, split, list_path, fractions=DEFAULT_FRACTIONS, seed=0):
    """Write the paths of one split of ``folders`` (as train_*.py makes it) to a text file.

    Paths are written relative to the list's folder when possible, so the list
    can be handed to ``python -m colorize.cli.evaluate --data LIST.txt``.
    """
    import os
    from pathlib import Path

    list_path = Path(list_path)
    chosen = folder_split_paths(folders, fractions, seed)[split]
    base = list_path.resolve().parent
    lines = [os.path.relpath(Path(p).resolve(), base) for p in chosen]
    list_path.parent.mkdir(parents=True, exist_ok=True)
    list_path.write_text("".join(line + "\n" for line in lines))
    return len(lines)
