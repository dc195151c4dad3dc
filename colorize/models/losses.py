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
