"""Everything about the two heads: output layers, decoders, and compiling for training.

    regression  the network's last conv gives normalised ab, scaled in the graph to
                ab in Lab units; decoded by the identity; L2 loss on normalised ab
                (AbMeanSquaredError)
    bins        1x1 conv to logits over the Q ab bins; decoded by the annealed mean
                (Zhang et al.); class-rebalanced soft cross-entropy, weights from the
                training photos' colour prior

The saved colorizer (:mod:`colorize.models.colorizer`) wraps a family's
network with the decoder of its head.
"""

import keras
import numpy as np
from keras import layers, ops

from colorize.color import AB_NORM
from colorize.models import BINS, REGRESSION
from colorize.models.losses import AbMeanSquaredError, RebalancedSoftCrossEntropy
from colorize.models.optimizers import make_adamw
from colorize.quantize import DEFAULT_TEMPERATURE, ab_bins
from colorize.rebalance import class_weights, prior_from_rgb


def regression_output(x, name="ab", start_gray=False):
    """3x3 conv to 2 channels (normalised ab, linear) then x AB_NORM: ab (B, H, W, 2) in Lab units.

    The network learns ab / AB_NORM (values about [-1.2, 1.2], a good scale
    for the initialisation); the constant factor lives in the graph so the
    model's output is ab itself. float32 under a mixed-precision policy.
    ``start_gray``: a zero kernel, so an untrained model outputs gray (ab = 0)
    instead of random colours: with a pretrained encoder feeding large
    activations this avoids a first epoch spent undoing loud noise.
    """
    initializer = "zeros" if start_gray else "glorot_uniform"
    x = layers.Conv2D(2, 3, padding="same", name=name, dtype="float32", kernel_initializer=initializer)(x)
    return layers.Rescaling(AB_NORM, name="denormalize_ab", dtype="float32")(x)


@keras.saving.register_keras_serializable(package="colorize")
class RegressionDecoder(layers.Layer):
    """The decoder of a regression head: its raw output already is ab (returned unchanged)."""

    def call(self, raw):
        return raw

    def decode(self, raw, temperature=None):
        """ab (..., 2) -> the same ab; ``temperature`` has no meaning here."""
        return ops.cast(raw, "float32")

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="colorize")
class AnnealedMeanDecoder(layers.Layer):
    """Logits over the Q ab bins -> ab by the annealed mean (Zhang et al. 2016).

    softmax(logits / T) @ bins: T = 1 is the mean of the predicted colour
    distribution, T -> 0 its mode. The bin table is part of the layer's
    config (so of the saved file), the default temperature a non-trainable
    variable that ``colorizer.temperature = T`` changes without retracing.

    Args:
        bins: (Q, 2) bin centres in Lab units (nested lists in the config).
        temperature: default T > 0.
    """

    def __init__(self, bins, temperature=DEFAULT_TEMPERATURE, **kwargs):
        super().__init__(**kwargs)
        self.bins = np.asarray(bins, np.float32).reshape(-1, 2)
        check_temperature(temperature)
        self.temperature_variable = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(float(temperature)), trainable=False, name="temperature"
        )

    def call(self, logits):
        return self.decode(logits, self.temperature_variable)

    def decode(self, logits, temperature=None):
        """logits (..., Q) -> ab (..., 2) float32 at ``temperature`` (None: the layer's own)."""
        temperature = self.temperature_variable if temperature is None else temperature
        logits = ops.cast(logits, "float32")
        # Subtracting the max before dividing by T keeps tiny T (1e-3) finite.
        shifted = logits - ops.max(logits, axis=-1, keepdims=True)
        probs = ops.softmax(shifted / ops.cast(temperature, "float32"), axis=-1)
        return ops.matmul(probs, ops.convert_to_tensor(self.bins, "float32"))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (2,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "bins": self.bins.tolist(),
                "temperature": round(float(ops.convert_to_numpy(self.temperature_variable)), 6),
            }
        )
        return config


def check_temperature(temperature):
    """ValueError unless ``temperature`` is a finite number > 0."""
    value = float(temperature)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"temperature must be a finite number > 0, got {temperature}")


def apply_bins_head(x, num_bins, name="logits"):
    """1x1 conv to logits over the Q ab bins, float32 even under mixed precision: (B, h, w, Q)."""
    return layers.Conv2D(num_bins, 1, name=name, dtype="float32")(x)


def apply_head(x, head, start_gray=True):
    """The output layer of ``head``: ab in Lab units (regression) or logits over the Q bins (bins).

    ``start_gray``: a regression head starts at ab = 0 (see ``regression_output``).
    """
    if head == REGRESSION:
        return regression_output(x, start_gray=start_gray)
    if head == BINS:
        return apply_bins_head(x, len(ab_bins()))
    raise ValueError(f"head must be {REGRESSION!r} or {BINS!r}, got {head!r}")




def compile_for_head(model, head, settings, train_images, output_stride, optimizer=None):
    """Compile ``model`` for ``head`` with AdamW (``settings.lr``, ``settings.weight_decay``).

    ``settings`` also gives ``lam`` / ``plain_ce`` (bins) and ``seed``;
    ``train_images`` uint8 RGB (N, S, S, 3) gives the colour prior of a bins
    head. The truth is pooled by ``output_stride`` to the model's output grid.
    Returns extras for the run's settings file ({"class_prior": p} for bins).
    """
    optimizer = optimizer or make_adamw(settings.lr, weight_decay=getattr(settings, "weight_decay", 1e-3))
    if head == REGRESSION:
        model.compile(optimizer=optimizer, loss=AbMeanSquaredError(downsample=output_stride))
        return {}
    if head != BINS:
        raise ValueError(f"unknown head {head!r}")
    prior = prior_from_rgb(train_images, seed=getattr(settings, "seed", 0))
    weights = None
    if not getattr(settings, "plain_ce", False):
        weights = class_weights(prior, lam=settings.lam)
        print(f"class rebalancing: lambda={settings.lam}, weights {weights.min():.2f}..{weights.max():.2f}")
    model.compile(
        optimizer=optimizer,
        loss=RebalancedSoftCrossEntropy(
            weights=None if weights is None else [float(w) for w in weights], downsample=output_stride
        ),
    )
    return {"class_prior": [round(float(p), 8) for p in prior]}
