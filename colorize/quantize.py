"""Quantised ab colour space for the Zhang et al. (ECCV 2016) classifier.

The ab plane is cut into a grid of 10 x 10 cells whose centres are multiples
of 10 (Lab units). A cell is kept as one of the Q output classes when the ab of
at least one 8-bit sRGB colour (D65, scikit-image's Lab) falls in it, i.e.
``round(ab / 10) * 10 == centre``. This gives Q = 261 with scikit-image 0.26
(the paper's 313 came from the colours that occur in ImageNet, a different
rule). Bins are ordered lexicographically by a, then b. The table is frozen
as package data (``colorize/assets/ab_bins.json``) so that an upgrade of
scikit-image can never move a bin under a trained model; ``derive_ab_bins``
keeps the derivation, and a test checks that both agree.

Encoding (training target): a pixel's ab becomes a soft distribution over its
k = 5 nearest bins with Gaussian weights (sigma = 5). Decoding (inference):
the annealed mean of the predicted distribution at temperature T = 0.38.

numpy functions (``nearest_bins``, ``soft_encode``) serve data tools and tests;
the ``keras.ops`` functions (``soft_encode_sparse``, ``annealed_mean``) run
inside the loss and the decoder on any backend.
"""

import functools

import numpy as np

from colorize.color import rgb_to_lab

GRID_STEP = 10.0
DEFAULT_K = 5
DEFAULT_SIGMA = 5.0
DEFAULT_TEMPERATURE = 0.38
# Pixels per brute-force chunk in nearest_bins' fallback: bounds the (n, Q) temporaries.
_CHUNK = 1 << 16


def _gamut_surface_rgb():
    """All 8-bit colours on the 6 faces of the RGB cube, uint8 (6 * 256^2, 3).

    The ab extremes of the sRGB gamut lie on the cube's surface, and every
    interior ab cell is also crossed by the surface; a test
    (tests/test_quantize.py) checks the resulting bins against the full
    256^3 enumeration. A coarse interior grid is added as a cheap safety net.
    """
    levels = np.arange(256, dtype=np.uint8)
    u, v = (grid.ravel() for grid in np.meshgrid(levels, levels, indexing="ij"))
    faces = []
    for axis in range(3):
        others = [i for i in range(3) if i != axis]
        for value in (0, 255):
            face = np.empty((u.size, 3), np.uint8)
            face[:, axis] = value
            face[:, others[0]] = u
            face[:, others[1]] = v
            faces.append(face)
    coarse = np.arange(0, 256, 15, dtype=np.uint8)
    interior = np.stack(np.meshgrid(coarse, coarse, coarse, indexing="ij"), -1).reshape(-1, 3)
    return np.concatenate(faces + [interior])


def bins_from_rgb(rgb):
    """The occupied bin centres of a set of colours.

    Args:
        rgb: uint8 RGB (..., 3).

    Returns:
        float32 (n, 2) centres (multiples of 10), sorted by a then b, unique.
    """
    ab = rgb_to_lab(np.asarray(rgb, np.uint8).reshape(1, -1, 3))[0, :, 1:]
    cells = np.unique(np.round(ab / GRID_STEP).astype(np.int64), axis=0)  # lexicographic
    return (cells * GRID_STEP).astype(np.float32)


def derive_ab_bins():
    """Derive the bin table from the sRGB gamut (0.6 s): float32 (Q, 2), Q = 261.

    Rule: 10-unit grid, centres at multiples of 10; a cell is kept when the ab
    of at least one 8-bit sRGB colour (D65, scikit-image Lab) rounds to it,
    ``round(ab / 10) * 10 == centre``. Ordered by a, then b.
    """
    return bins_from_rgb(_gamut_surface_rgb())


@functools.lru_cache(maxsize=1)
def ab_bins():
    """The frozen Q bin centres, float32 (Q, 2) in Lab units, read-only (cached).

    Read from the package data written from :func:`derive_ab_bins`.
    """
    import json
    from importlib import resources

    text = resources.files("colorize").joinpath("assets", "ab_bins.json").read_text()
    bins = np.asarray(json.loads(text)["bins"], np.float32).reshape(-1, 2)
    bins.setflags(write=False)  # shared by every caller: must not be mutated
    return bins


@functools.lru_cache(maxsize=1)
def _cell_lookup():
    """Grid cell -> bin index table (-1 for cells outside the gamut), and its origin."""
    cells = np.round(ab_bins() / GRID_STEP).astype(np.int64)
    origin = cells.min(axis=0)
    table = -np.ones(tuple(cells.max(axis=0) - origin + 1), np.int64)
    table[tuple((cells - origin).T)] = np.arange(len(cells))
    table.setflags(write=False)
    return table, origin


def _brute_force_nearest(ab, bins):
    """Nearest bin by exhaustive search, ab (n, 2) -> (n,), chunked."""
    out = np.empty(len(ab), np.int64)
    for start in range(0, len(ab), _CHUNK):
        # |x - c|^2 minus the per-row constant |x|^2: one matmul, exact enough in float64.
        d2 = np.sum(bins**2, axis=-1) - 2.0 * ab[start : start + _CHUNK] @ bins.T
        out[start : start + _CHUNK] = np.argmin(d2, axis=-1)
    return out


def nearest_bins(ab):
    """Index of the nearest bin centre for each ab.

    Args:
        ab: (..., 2) in Lab units.

    Returns:
        int64 (...) indices into ``ab_bins()``.
    """
    ab = np.asarray(ab, np.float64)
    shape = ab.shape[:-1]
    flat = ab.reshape(-1, 2)
    table, origin = _cell_lookup()
    # On a square grid the nearest centre is the rounded cell; that is exact
    # whenever the cell is a bin. Only out-of-gamut ab needs the full search.
    cells = np.round(flat / GRID_STEP).astype(np.int64) - origin
    inside = np.all((cells >= 0) & (cells < table.shape), axis=-1)
    index = np.full(len(flat), -1, np.int64)
    index[inside] = table[cells[inside, 0], cells[inside, 1]]
    missing = index < 0
    if missing.any():
        index[missing] = _brute_force_nearest(flat[missing], ab_bins().astype(np.float64))
    return index.reshape(shape)


def soft_encode(ab, k=DEFAULT_K, sigma=DEFAULT_SIGMA):
    """Dense soft encoding (numpy): Gaussian weights on the k nearest bins.

    Args:
        ab: (..., 2) in Lab units.
        k: number of nearest bins that get weight.
        sigma: Gaussian width in Lab units.

    Returns:
        float32 (..., Q), each row sums to 1, at most k non-zeros,
        largest weight on the nearest bin.
    """
    bins = ab_bins().astype(np.float64)
    ab = np.asarray(ab, np.float64)
    d2 = np.sum((ab[..., None, :] - bins) ** 2, axis=-1)
    nearest = np.argsort(d2, axis=-1, kind="stable")[..., :k]
    d2_near = np.take_along_axis(d2, nearest, axis=-1)
    # Subtracting the smallest distance leaves the normalised weights unchanged
    # and keeps exp() from underflowing to 0/0 far from every bin.
    logits = -(d2_near - d2_near[..., :1]) / (2.0 * sigma**2)
    weights = np.exp(logits)
    weights /= weights.sum(axis=-1, keepdims=True)
    out = np.zeros(d2.shape, np.float32)
    np.put_along_axis(out, nearest, weights.astype(np.float32), axis=-1)
    return out


def soft_encode_sparse(ab, bins, k=DEFAULT_K, sigma=DEFAULT_SIGMA):
    """Sparse soft encoding with ``keras.ops`` (used inside the loss).

    Args:
        ab: tensor (..., 2) in Lab units.
        bins: (Q, 2) bin centres, e.g. ``ab_bins()``.
        k: number of nearest bins.
        sigma: Gaussian width in Lab units.

    Returns:
        (indices, weights): int (..., k) bin indices, nearest first (index 0
        is the nearest bin), and float32 (..., k) Gaussian weights summing to 1.
    """
    from keras import ops  # here, not at the top: the NumPy functions (a reference photo's bins) need no Keras

    ab = ops.cast(ab, "float32")
    bins = ops.convert_to_tensor(bins, "float32")
    # |x - c|^2 = |x|^2 - 2 x.c + |c|^2 via one matmul: no (..., Q, 2) temporary.
    d2 = (
        ops.sum(ops.square(ab), axis=-1, keepdims=True)
        - 2.0 * ops.matmul(ab, ops.transpose(bins))
        + ops.sum(ops.square(bins), axis=-1)
    )
    _, indices = ops.top_k(-d2, k=k, sorted=True)
    # Recompute the k chosen distances exactly (the expansion loses precision).
    chosen = ops.take(bins, indices, axis=0)  # (..., k, 2)
    d2_near = ops.sum(ops.square(ops.expand_dims(ab, -2) - chosen), axis=-1)
    weights = ops.softmax(-d2_near / (2.0 * sigma**2), axis=-1)  # = normalised Gaussian
    return indices, weights


def annealed_mean(logits, temperature=DEFAULT_TEMPERATURE, bins=None):
    """Decode class logits to ab by the annealed mean (keras.ops).

    f_T(z) = exp(log z / T) / sum_q exp(log z_q / T) with z = softmax(logits)
    equals softmax(logits / T), since log z = logits - logsumexp(logits) and the
    constant cancels. The result is sum_q f_T(z)_q * bin_q: T = 1 gives the
    mean, T -> 0 the mode; T = 0.38 is the paper's compromise. Subtracting the
    max logit before dividing by T keeps tiny T (1e-3) finite.

    Args:
        logits: (..., Q) tensor or array (any backend, numpy accepted).
        temperature: T > 0.
        bins: (Q, 2) centres; defaults to ``ab_bins()``.

    Returns:
        float32 tensor (..., 2) in Lab units, inside the bins' convex hull.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    from keras import ops

    bins = ab_bins() if bins is None else bins
    logits = ops.cast(ops.convert_to_tensor(logits), "float32")
    shifted = logits - ops.max(logits, axis=-1, keepdims=True)
    probs = ops.softmax(shifted / temperature, axis=-1)
    return ops.matmul(probs, ops.convert_to_tensor(bins, "float32"))


__all__ = [
    "DEFAULT_K",
    "DEFAULT_SIGMA",
    "DEFAULT_TEMPERATURE",
    "GRID_STEP",
    "ab_bins",
    "annealed_mean",
    "bins_from_rgb",
    "derive_ab_bins",
    "nearest_bins",
    "soft_encode",
    "soft_encode_sparse",
]
