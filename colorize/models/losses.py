"""The class-rebalanced soft cross-entropy of Zhang et al. (2016), eq. 2.

    L(Z^, Z) = -sum_{h,w} v(Z_hw) sum_q Z_hwq log Z^_hwq

Z is the soft encoding of the true ab (Gaussian over the k = 5 nearest bins),
Z^ = softmax(logits), and v(Z_hw) = w[nearest bin] the rebalancing weight
(colorize.rebalance). Written with ``keras.ops`` only.

Every loss here takes the truth as ab in Lab units, the models' own output unit; the L2 and L1
losses on ab (the regression head's and the GAN generator's) share the pooling of the truth.
"""

import keras
import numpy as np
from keras import ops

from colorize.color import AB_NORM
from colorize.quantize import DEFAULT_K, DEFAULT_SIGMA, ab_bins, soft_encode_sparse


@keras.saving.register_keras_serializable(package="colorize")
class RebalancedSoftCrossEntropy(keras.losses.Loss):
    """Soft-encoded, class-rebalanced cross-entropy over the Q ab bins.

    Args:
        weights: Q per-bin weights (list or array), e.g.
            ``colorize.rebalance.class_weights(prior)``; None means all ones,
            i.e. the plain soft cross-entropy.
        downsample: ratio between the truth's and the logits' resolution.
            The truth is average-pooled by this factor (window = stride), which
            is aligned with bilinear upsampling of the decoded ab by the same
            factor at inference.
        k: number of nearest bins in the soft encoding.
        sigma: Gaussian width of the soft encoding, Lab units.
        name, **kwargs: passed to keras.losses.Loss (e.g. reduction).

    ``call(y_true, y_pred)``:
        y_true: ab in Lab units, (B, H, W, 2).
        y_pred: logits (B, H / downsample, W / downsample, Q).
        Returns the per-sample mean over pixels, (B,); Keras' reduction then
        averages over the batch.
    """

    def __init__(
        self,
        weights=None,
        downsample=4,
        k=DEFAULT_K,
        sigma=DEFAULT_SIGMA,
        name="rebalanced_soft_cross_entropy",
        **kwargs,
    ):
        super().__init__(name=name, **kwargs)
        num_bins = len(ab_bins())
        if weights is not None:
            weights = np.asarray(weights, np.float32).reshape(-1)
            if len(weights) != num_bins:
                raise ValueError(f"weights must have {num_bins} entries (one per bin), got {len(weights)}")
        if int(downsample) < 1:
            raise ValueError(f"downsample must be >= 1, got {downsample}")
        self.class_weights = weights
        self.downsample = int(downsample)
        self.k = int(k)
        self.sigma = float(sigma)

    def call(self, y_true, y_pred):
        bins = ab_bins()
        # The softmax and logs in float32 even under a mixed-precision policy.
        logits = ops.cast(y_pred, "float32")
        ab = ops.cast(y_true, "float32")
        if self.downsample > 1:
            ab = ops.average_pool(ab, self.downsample, strides=self.downsample, padding="valid")
        indices, target = soft_encode_sparse(ab, bins, k=self.k, sigma=self.sigma)
        # log_softmax, never log(softmax): finite for any finite logits.
        log_probs = ops.take_along_axis(ops.log_softmax(logits, axis=-1), indices, axis=-1)
        cross_entropy = -ops.sum(ops.stop_gradient(target) * log_probs, axis=-1)
        if self.class_weights is not None:
            pixel_weights = ops.take(ops.convert_to_tensor(self.class_weights, "float32"), indices[..., 0])
            cross_entropy = cross_entropy * pixel_weights
        return ops.mean(cross_entropy, axis=(1, 2))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                # A plain list, so the weights travel inside the .keras file's JSON.
                "weights": None if self.class_weights is None else [float(w) for w in self.class_weights],
                "downsample": self.downsample,
                "k": self.k,
                "sigma": self.sigma,
            }
        )
        return config


class _PooledAbLoss(keras.losses.Loss):
    """A loss on ab in Lab units whose truth is average-pooled by ``downsample`` to the prediction's grid."""

    def __init__(self, downsample=1, **kwargs):
        super().__init__(**kwargs)
        if int(downsample) < 1:
            raise ValueError(f"downsample must be >= 1, got {downsample}")
        self.downsample = int(downsample)

    def normalised_error(self, y_true, y_pred):
        """(ab_pred - pooled ab_true) / AB_NORM, float32 (B, h, w, 2)."""
        truth = ops.cast(y_true, "float32")
        if self.downsample > 1:
            truth = ops.average_pool(truth, self.downsample, strides=self.downsample, padding="valid")
        return (ops.cast(y_pred, "float32") - truth) / AB_NORM

    def get_config(self):
        return {**super().get_config(), "downsample": self.downsample}


@keras.saving.register_keras_serializable(package="colorize")
class AbMeanSquaredError(_PooledAbLoss):
    """The CS 512 report's L2 loss, on normalised ab: mean((ab_pred - ab_true)^2) / AB_NORM^2.

    Args:
        downsample: ratio between the truth's and the prediction's
            resolution (a model's output stride); the truth is
            average-pooled by it, as in RebalancedSoftCrossEntropy.

    ``call(y_true, y_pred)``: ab in Lab units, (B, H, W, 2) and
    (B, H / downsample, W / downsample, 2). Dividing by AB_NORM^2 keeps the
    loss on the scale the reports quote (ab normalised to about [-1, 1]), so
    ``--min-delta`` means the same for every family. Returns (B,).
    """

    def __init__(self, downsample=1, name="ab_mean_squared_error", **kwargs):
        super().__init__(downsample, name=name, **kwargs)

    def call(self, y_true, y_pred):
        return ops.mean(ops.square(self.normalised_error(y_true, y_pred)), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="colorize")
class AbMeanAbsoluteError(_PooledAbLoss):
    """pix2pix's L1 term on normalised ab: mean(|ab_pred - ab_true|) / AB_NORM.

    ``call(y_true, y_pred)``: as :class:`AbMeanSquaredError`. Dividing by
    AB_NORM puts ab in about [-1, 1], the scale of pix2pix's images, so
    pix2pix's weight (lambda = 100 beside the adversarial loss) means the
    same here; an L1 of 0.1 is a mean error of 11 Lab units. Returns (B,).
    """

    def __init__(self, downsample=1, name="ab_mean_absolute_error", **kwargs):
        super().__init__(downsample, name=name, **kwargs)

    def call(self, y_true, y_pred):
        return ops.mean(ops.abs(self.normalised_error(y_true, y_pred)), axis=(1, 2, 3))


# ----------------------------------------------------------------------------- terms on the colorized photo
# sRGB (D65) from XYZ as scikit-image (and colorize.color) convert, for Lab -> RGB inside the graph.
_RGB_FROM_XYZ = np.linalg.inv(np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)).astype(np.float32)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883], np.float32)


def lab_to_rgb(lightness, ab):
    """L (..., 1) in [0, 100] and ab (..., 2) in Lab units -> sRGB (..., 3) in [0, 255], differentiable.

    The conversion of :func:`colorize.color.lab_to_rgb` (D65, sRGB gamma) in ``keras.ops``, so a loss
    can look at the colorized photo as an RGB classifier does. Out-of-gamut colours are clipped.
    """
    lightness, ab = ops.cast(lightness, "float32"), ops.cast(ab, "float32")
    fy = (lightness + 16.0) / 116.0
    f = ops.concatenate([fy + ab[..., :1] / 500.0, fy, fy - ab[..., 1:] / 200.0], axis=-1)
    delta = 6.0 / 29.0
    xyz = ops.where(f > delta, f ** 3, 3 * delta**2 * (f - 4.0 / 29.0)) * _WHITE_D65
    linear = ops.clip(ops.matmul(xyz, ops.convert_to_tensor(_RGB_FROM_XYZ.T)), 0.0, 1.0)
    # The gamma curve's root has an infinite slope at 0: the branch below 0.0031308 never takes it.
    gamma = 1.055 * ops.power(ops.maximum(linear, 0.0031308), 1 / 2.4) - 0.055
    return 255.0 * ops.where(linear > 0.0031308, gamma, 12.92 * linear)


def neutral_chroma_penalty(ab_pred, ab_true, neutral=6.0):
    """Mean chroma the prediction adds above ``neutral`` where the truth is neutral (chroma < ``neutral``),
    divided by AB_NORM; 0 when the batch has no neutral pixel. ab (B, h, w, 2) in Lab units, same grid.

    Asks for "colour only where the evidence is": a gray clock face, a road or a white shirt
    painted purple costs here, while colourful truth is left to the L1 term.
    """
    ab_pred, ab_true = ops.cast(ab_pred, "float32"), ops.cast(ab_true, "float32")
    true_chroma = ops.sqrt(ops.sum(ops.square(ab_true), axis=-1) + 1e-6)
    pred_chroma = ops.sqrt(ops.sum(ops.square(ab_pred), axis=-1) + 1e-6)
    mask = ops.cast(true_chroma < neutral, "float32")
    excess = ops.relu(pred_chroma - neutral) * mask
    return ops.sum(excess) / ops.maximum(ops.sum(mask), 1.0) / AB_NORM


def class_distribution_divergence(true_logits, output_logits):
    """KL(p_true || p_output) of two classifiers' logits (B, K), mean over the batch.

    ChromaGAN's class-distribution loss (Vitoria et al. 2020), Zhang et al.'s semantic test made a
    loss: the colorized photo should make a frozen classifier see what it sees in the true photo.
    """
    true_logits = ops.stop_gradient(ops.cast(true_logits, "float32"))
    log_true = ops.log_softmax(true_logits, axis=-1)
    log_output = ops.log_softmax(ops.cast(output_logits, "float32"), axis=-1)
    return ops.mean(ops.sum(ops.exp(log_true) * (log_true - log_output), axis=-1))
