"""Colorization metrics: per-image numbers and sums a driver adds up over a test set.

Why several metrics (see the Northeastern report's "Evaluation strategy"): the
mean pixel error rewards dull colours (the gray image, ab = 0, scores well),
and plain 313/Q-bin accuracy counts a neighbouring, visually identical bin as
a miss. So we report, side by side with the do-nothing gray baseline:

* AuC (Zhang et al. 2016): the fraction of pixels whose ab error is within a
  threshold, averaged over thresholds 0, 1, ..., 150 (Lab units), and its
  class-rebalanced version, where each pixel counts with the inverse
  frequency of its TRUE colour bin over all evaluated images (so the rare,
  saturated colours weigh as much as the common grays).
* PSNR and SSIM on the 8-bit RGB image the user sees.
* Colourfulness (Hasler & Suesstrunk 2003) of the output and of the truth:
  their ratio shows dullness (< 1) or garishness (> 1), the spread of the
  per-image values shows "everything painted one tint".
* Regression view: MSE and R^2 of ab in Lab units.
* Classifier view (only these are NOT at full resolution, they are about the
  classifier's distribution on its own output grid): top-1/top-5 accuracy of
  the predicted bin distribution against the true nearest bin, an
  approximate accuracy over coarse colour groups (the report's proposed
  remedy, see :func:`coarse_groups`), and the cross-entropy against the
  soft-encoded target (the training loss without class weights).
* The mean |L_out - L_in|: the output must keep the input's lightness.

Everything here is NumPy/scikit-image; inputs are one image's arrays, and
every quantity is returned either as a per-image number or as sums that
simply add over images (:class:`MetricAccumulator`, :class:`AucHistogram`).

Shapes and units: RGB images are uint8 (H, W, 3); L is (H, W) in [0, 100];
ab is (H, W, 2) in Lab units (about [-128, 127]); logits are (h, w, Q).
"""

from dataclasses import dataclass, field

import numpy as np
from skimage.metrics import structural_similarity

from colorize import color
from colorize.quantize import DEFAULT_K, DEFAULT_SIGMA, ab_bins, nearest_bins

# AuC thresholds 0, 1, ..., 150 Lab units (Zhang et al. 2016, section 3.1).
AUC_MAX_THRESHOLD = 150
N_THRESHOLDS = AUC_MAX_THRESHOLD + 1

# Soft encoding of the classifier target as in training (Zhang et al.): the
# k = 5 nearest bins, Gaussian weights with sigma 5 Lab units, summing to 1.
SOFT_NEIGHBOURS = DEFAULT_K
SOFT_SIGMA = DEFAULT_SIGMA

# Coarse colour groups for the approximate accuracy (see coarse_groups).
NEUTRAL_CHROMA = 20.0
VIVID_CHROMA = 50.0
HUE_SECTORS = 12


# ----------------------------------------------------------------------------- AuC
def ab_error(ab_out, ab_true):
    """Per-pixel Euclidean ab error (...) in Lab units between two ab arrays (..., 2)."""
    diff = np.asarray(ab_out, np.float32) - np.asarray(ab_true, np.float32)
    return np.sqrt(np.einsum("...c,...c->...", diff, diff))


def _threshold_index(error):
    """Smallest integer threshold t with error <= t, as int; 151 for errors above 150.

    A pixel is "within t" for exactly the thresholds t >= ceil(error), so one
    integer per pixel replaces a (pixels x 151) boolean table.
    """
    index = np.ceil(np.asarray(error, np.float64))
    return np.minimum(index, N_THRESHOLDS).astype(np.int64)


def auc(ab_out, ab_true):
    """Plain AuC of one image in [0, 1]: mean over t = 0..150 of the fraction of pixels with error <= t.

    A pixel with error e contributes (151 - ceil(e)) / 151 (0 beyond 150).
    """
    index = _threshold_index(ab_error(ab_out, ab_true)).ravel()
    return float(np.mean(N_THRESHOLDS - index) / N_THRESHOLDS)


@dataclass
class AucHistogram:
    """Pixel counts per TRUE colour bin and error threshold, summed over images.

    ``pixels[q]``: pixels whose true colour falls in bin q;
    ``within[q, t]``: of those, pixels with ab error <= t (t = 0..150).
    Histograms add with ``+``; the AuCs come from the sum at the end, because
    the rebalancing weights (inverse bin frequency) are over ALL images.
    """

    pixels: np.ndarray
    within: np.ndarray

    @classmethod
    def empty(cls, n_bins=None):
        n_bins = len(ab_bins()) if n_bins is None else n_bins
        return cls(np.zeros(n_bins, np.int64), np.zeros((n_bins, N_THRESHOLDS), np.int64))

    @classmethod
    def of_image(cls, ab_out, ab_true, true_bins=None):
        """Histogram of one image; ``true_bins`` (H, W) defaults to nearest_bins(ab_true)."""
        n_bins = len(ab_bins())
        if true_bins is None:
            true_bins = nearest_bins(ab_true)
        index = _threshold_index(ab_error(ab_out, ab_true)).ravel()
        flat = np.asarray(true_bins, np.int64).ravel() * (N_THRESHOLDS + 1) + index
        counts = np.bincount(flat, minlength=n_bins * (N_THRESHOLDS + 1)).reshape(n_bins, N_THRESHOLDS + 1)
        return cls(counts.sum(axis=1), np.cumsum(counts[:, :N_THRESHOLDS], axis=1))

    def __add__(self, other):
        return AucHistogram(self.pixels + other.pixels, self.within + other.within)

    def auc(self):
        """Plain AuC over all pixels of all images, in [0, 1] (nan when empty)."""
        total = self.pixels.sum()
        return float(self.within.sum() / (total * N_THRESHOLDS)) if total else float("nan")

    def rebalanced_auc(self):
        """Class-rebalanced AuC in [0, 1]: pixels weighted by 1 / frequency of their true bin.

        With weights N / n_q the weighted mean is exactly the mean, over the
        bins that occur, of each bin's own AuC.
        """
        present = self.pixels > 0
        if not present.any():
            return float("nan")
        per_bin = self.within[present].sum(axis=1) / (self.pixels[present] * N_THRESHOLDS)
        return float(per_bin.mean())


# ----------------------------------------------------------------------------- RGB image quality
def psnr(output_rgb, truth_rgb):
    """PSNR in dB of uint8 RGB (H, W, 3) images, peak 255; inf when identical."""
    diff = np.asarray(output_rgb, np.float64) - np.asarray(truth_rgb, np.float64)
    mse = float(np.mean(diff * diff))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim(output_rgb, truth_rgb):
    """Mean SSIM of uint8 RGB (H, W, 3) images in [-1, 1] (scikit-image, 7x7 window, per channel)."""
    return float(structural_similarity(output_rgb, truth_rgb, channel_axis=-1, data_range=255))


def colourfulness(rgb):
    """Hasler & Suesstrunk (2003) colourfulness of an RGB image on 8-bit values (0 for gray).

    rg = R - G, yb = (R + G) / 2 - B; C = sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2).
    Standard deviations are over pixels (population). The paper's scale: 15
    slightly, 33 moderately, 59 quite, 82 highly, 109 extremely colourful.
    """
    rgb = np.asarray(rgb, np.float32)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    rg = red - green
    yb = 0.5 * (red + green) - blue
    sigma = np.sqrt(np.var(rg, dtype=np.float64) + np.var(yb, dtype=np.float64))
    mu = np.sqrt(np.mean(rg, dtype=np.float64) ** 2 + np.mean(yb, dtype=np.float64) ** 2)
    return float(sigma + 0.3 * mu)


def lightness_error(output_lightness, input_lightness):
    """Mean |L_out - L_in| in Lab units over pixels of (H, W) L arrays; should stay near 0."""
    return float(np.mean(np.abs(np.asarray(output_lightness, np.float32) - np.asarray(input_lightness, np.float32))))


# Chroma sqrt(a^2 + b^2) below which a true colour counts as neutral (black, white, gray things), and
# above which an output pixel counts as painted. A chroma of 6 is barely visible; 15 is a clear tint.
NEUTRAL_CHROMA = 6.0
PAINTED_CHROMA = 15.0


def false_colour_counts(ab_out, ab_true, neutral=NEUTRAL_CHROMA, painted=PAINTED_CHROMA):
    """(truly neutral pixels, of them painted): pixels whose true chroma < ``neutral``, and how many of
    those the output gives a chroma > ``painted``. ab (H, W, 2) in Lab units.

    Their ratio is the *false colour* rate: how often a gray clock face, a road or a white shirt
    is painted. Counts (not a per-image mean) so a set's rate pools all its neutral pixels.
    """
    true_chroma = np.hypot(ab_true[..., 0], ab_true[..., 1])
    out_chroma = np.hypot(ab_out[..., 0], ab_out[..., 1])
    neutral_mask = true_chroma < neutral
    return int(np.count_nonzero(neutral_mask)), int(np.count_nonzero(neutral_mask & (out_chroma > painted)))


# ----------------------------------------------------------------------------- regression view
@dataclass
class RegressionSums:
    """Running sums for ab MSE and R^2 over many images (float64, per channel).

    R^2 = 1 - SS_res / SS_tot with SS_tot around the per-channel mean of all
    evaluated pixels, i.e. pooled over the whole set, not averaged per image.
    """

    n: int = 0
    sse: np.ndarray = field(default_factory=lambda: np.zeros(2))
    sum_y: np.ndarray = field(default_factory=lambda: np.zeros(2))
    sum_y2: np.ndarray = field(default_factory=lambda: np.zeros(2))

    def add(self, ab_out, ab_true):
        out = np.asarray(ab_out, np.float64).reshape(-1, 2)
        true = np.asarray(ab_true, np.float64).reshape(-1, 2)
        diff = out - true
        self.n += true.shape[0]
        self.sse += np.einsum("pc,pc->c", diff, diff)
        self.sum_y += true.sum(axis=0)
        self.sum_y2 += np.einsum("pc,pc->c", true, true)

    def mse(self):
        return float(self.sse.sum() / (2 * self.n)) if self.n else float("nan")

    def r2(self):
        if not self.n:
            return float("nan")
        ss_tot = float((self.sum_y2 - self.sum_y**2 / self.n).sum())
        ss_res = float(self.sse.sum())
        if ss_tot <= 0:
            return 1.0 if ss_res == 0 else float("-inf")
        return 1.0 - ss_res / ss_tot


# ----------------------------------------------------------------------------- classifier view
def pool_ab(ab, factor=4):
    """Average-pool ab (H, W, 2) by ``factor`` (as the classifier loss does) -> (H/f, W/f, 2).

    H and W must be divisible by ``factor``.
    """
    ab = np.asarray(ab, np.float32)
    height, width = ab.shape[:2]
    if height % factor or width % factor:
        raise ValueError(f"ab of {height}x{width} is not divisible by the pooling factor {factor}")
    return ab.reshape(height // factor, factor, width // factor, factor, 2).mean(axis=(1, 3))


def coarse_groups(bins=None, neutral_chroma=NEUTRAL_CHROMA, vivid_chroma=VIVID_CHROMA, sectors=HUE_SECTORS):
    """Coarse colour group of every bin (Q,) int: the report's "approximate classification".

    Groups: 0 = neutral (chroma < 20, any hue); then 12 hue sectors of 30
    degrees, each split into a muted ring (20 <= chroma < 50) and a vivid ring
    (chroma >= 50): 25 groups in all. A prediction in the same group as the
    truth (say "vivid orange" for a "vivid orange-red") counts as correct, so
    near-misses between neighbouring bins stop counting as errors.
    """
    bins = np.asarray(ab_bins() if bins is None else bins, np.float64)
    chroma = np.hypot(bins[:, 0], bins[:, 1])
    # Sector 0 is centred on hue 0 (the +a, red-magenta axis).
    hue = np.mod(np.degrees(np.arctan2(bins[:, 1], bins[:, 0])) + 180.0 / sectors, 360.0)
    sector = np.minimum((hue // (360.0 / sectors)).astype(np.int64), sectors - 1)
    ring = np.where(chroma >= vivid_chroma, 1, 0)
    return np.where(chroma < neutral_chroma, 0, 1 + 2 * sector + ring)


def soft_encode(ab, neighbours=SOFT_NEIGHBOURS, sigma=SOFT_SIGMA):
    """ab (..., 2) -> (indices (..., k), weights (..., k)): the training loss's soft target, as NumPy.

    The same code as the loss (colorize.quantize.soft_encode_sparse): the k
    nearest bins, Gaussian-weighted, summing to 1; index 0 is the nearest bin.
    """
    import keras

    from colorize.quantize import soft_encode_sparse

    indices, weights = soft_encode_sparse(np.asarray(ab, np.float32), ab_bins(), k=neighbours, sigma=sigma)
    return keras.ops.convert_to_numpy(indices).astype(np.int64), keras.ops.convert_to_numpy(weights)


@dataclass
class ClassifierSums:
    """Running sums of the classifier metrics on the network grid (h, w), over images.

    Not at full resolution: they judge the predicted bin distribution at the
    classifier's own output grid against the truth ab average-pooled to it.
    """

    n: int = 0
    top1: int = 0
    top5: int = 0
    approx: int = 0
    cross_entropy: float = 0.0

    def add(self, logits, ab_grid_true, true_bins=None, groups=None):
        """Add one image: ``logits`` (h, w, Q) and the truth ab (h, w, 2) on the same grid."""
        logits = np.asarray(logits, np.float32).reshape(-1, np.shape(logits)[-1])
        if true_bins is None:
            true_bins = nearest_bins(ab_grid_true)
        true_bins = np.asarray(true_bins, np.int64).ravel()
        groups = coarse_groups() if groups is None else groups
        n_pixels = logits.shape[0]
        rows = np.arange(n_pixels)
        # Rank of the true bin = how many bins score higher (ties count as hits).
        rank = np.count_nonzero(logits > logits[rows, true_bins][:, None], axis=1)
        # Log-softmax once; the (unnormalised) probabilities summed per coarse group
        # give the approximate accuracy's group prediction.
        shifted = logits - logits.max(axis=1, keepdims=True)
        unnormalised = np.exp(shifted)
        log_norm = np.log(unnormalised.sum(axis=1))
        group_mass = unnormalised @ np.eye(int(groups.max()) + 1, dtype=np.float32)[groups]
        index, weights = soft_encode(np.asarray(ab_grid_true, np.float32).reshape(-1, 2))
        log_probs = np.take_along_axis(shifted, index, axis=1) - log_norm[:, None]
        self.n += n_pixels
        self.top1 += int(np.count_nonzero(rank == 0))
        self.top5 += int(np.count_nonzero(rank < 5))
        self.approx += int(np.count_nonzero(group_mass.argmax(axis=1) == groups[true_bins]))
        self.cross_entropy += float(-(weights * log_probs).sum())

    def summary(self):
        """dict of top1, top5, approx_accuracy (fractions) and cross_entropy (nats per grid pixel)."""
        n = max(self.n, 1)
        return {
            "top1": self.top1 / n,
            "top5": self.top5 / n,
            "approx_accuracy": self.approx / n,
            "cross_entropy": self.cross_entropy / n,
        }


# ----------------------------------------------------------------------------- per-set driver
@dataclass
class Truth:
    """What every model's output is compared with, computed once per photo."""

    rgb: np.ndarray  # uint8 (H, W, 3): the colour photo
    lightness: np.ndarray  # (H, W) L in [0, 100]: what the model is given
    ab: np.ndarray  # (H, W, 2) Lab units
    bins: np.ndarray  # (H, W) int: nearest colour bin of every pixel
    colourfulness: float

    @classmethod
    def of(cls, rgb, lightness=None):
        """From a uint8 RGB photo; ``lightness`` (H, W) is the L the model was given (default: the photo's)."""
        lab = color.rgb_to_lab(rgb)
        lightness = lab[..., 0] if lightness is None else np.asarray(lightness, np.float32)
        ab = lab[..., 1:]
        return cls(rgb, lightness, ab, nearest_bins(ab), colourfulness(rgb))


class MetricAccumulator:
    """Full-resolution metrics of one model (at one temperature) summed over photos.

    ``add(output_rgb, truth)`` scores one uint8 RGB output (H, W, 3) against a
    :class:`Truth`; optional ``logits`` (h, w, Q) and ``ab_grid_true`` (h, w, 2)
    add the classifier metrics. ``summary()`` returns the averages.
    """

    def __init__(self):
        self.images = 0
        self.auc_hist = None
        self.regression = RegressionSums()
        self.classifier = None
        self.psnr = []
        self.ssim = []
        self.colourfulness = []
        self.truth_colourfulness = []
        self.lightness_error = []
        self.neutral_pixels = 0
        self.painted_neutral_pixels = 0

    def add(self, output_rgb, truth, logits=None, ab_grid_true=None):
        """Score one output; returns its per-image numbers as a dict."""
        lab = color.rgb_to_lab(output_rgb)
        hist = AucHistogram.of_image(lab[..., 1:], truth.ab, truth.bins)
        self.auc_hist = hist if self.auc_hist is None else self.auc_hist + hist
        self.regression.add(lab[..., 1:], truth.ab)
        neutral, painted = false_colour_counts(lab[..., 1:], truth.ab)
        self.neutral_pixels += neutral
        self.painted_neutral_pixels += painted
        scores = {
            "auc": hist.auc(),
            "psnr": psnr(output_rgb, truth.rgb),
            "ssim": ssim(output_rgb, truth.rgb),
            "colourfulness": colourfulness(output_rgb),
            "lightness_error": lightness_error(lab[..., 0], truth.lightness),
        }
        self.psnr.append(scores["psnr"])
        self.ssim.append(scores["ssim"])
        self.colourfulness.append(scores["colourfulness"])
        self.truth_colourfulness.append(truth.colourfulness)
        self.lightness_error.append(scores["lightness_error"])
        if logits is not None:
            self.classifier = self.classifier or ClassifierSums()
            self.classifier.add(logits, ab_grid_true)
        self.images += 1
        return scores

    def summary(self):
        """dict of the set's metrics (means over images unless the name says otherwise)."""
        truth_mean = float(np.mean(self.truth_colourfulness)) if self.images else float("nan")
        out_mean = float(np.mean(self.colourfulness)) if self.images else float("nan")
        result = {
            "images": self.images,
            "auc": self.auc_hist.auc() if self.auc_hist else float("nan"),
            "auc_rebalanced": self.auc_hist.rebalanced_auc() if self.auc_hist else float("nan"),
            "psnr": float(np.mean(self.psnr)) if self.images else float("nan"),
            "ssim": float(np.mean(self.ssim)) if self.images else float("nan"),
            "colourfulness": out_mean,
            "colourfulness_std": float(np.std(self.colourfulness)) if self.images else float("nan"),
            "colourfulness_ratio": out_mean / truth_mean if truth_mean > 0 else float("nan"),
            "mse_ab": self.regression.mse(),
            "r2_ab": self.regression.r2(),
            "lightness_error": float(np.mean(self.lightness_error)) if self.images else float("nan"),
            "false_colour": self.painted_neutral_pixels / self.neutral_pixels if self.neutral_pixels else float("nan"),
        }
        if self.classifier is not None:
            result.update(self.classifier.summary())
        return result
