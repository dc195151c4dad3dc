"""Small building blocks shared by the families that fuse pretrained features."""

import keras
import numpy as np
from keras import layers, ops

from colorize.color import AB_NORM


@keras.saving.register_keras_serializable(package="colorize")
class FuseGlobal(layers.Layer):
    """Tile a global vector over a feature map and concatenate: the reports' fusion layer.

    ``call([feature_map, vector])``: (B, h, w, C) and (B, D) -> (B, h, w, C + D),
    the vector repeated at every position (Iizuka et al.'s fusion; the
    Northeastern report's and Deep Koalarization's embedding fusion). Any h, w.
    """

    def call(self, inputs):
        feature_map, vector = inputs
        shape = ops.shape(feature_map)
        tiled = ops.broadcast_to(vector[:, None, None, :], (shape[0], shape[1], shape[2], ops.shape(vector)[-1]))
        return ops.concatenate([feature_map, ops.cast(tiled, feature_map.dtype)], axis=-1)

    def compute_output_shape(self, input_shapes):
        feature_shape, vector_shape = input_shapes
        channels = None if feature_shape[-1] is None or vector_shape[-1] is None else feature_shape[-1] + vector_shape[-1]
        return tuple(feature_shape[:-1]) + (channels,)


def channels(filters, width):
    """Channels of a layer at width multiplier ``width`` (at least 8)."""
    return max(8, int(round(filters * width)))


def apply_conv_bn_relu(x, filters, name, kernel=3, strides=1):
    """Conv (no bias) + BatchNorm + ReLU: (B, H, W, C) -> (B, H/strides, W/strides, filters)."""
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def apply_colorization_decoder(x, width):
    """Iizuka et al.'s colorization network, also Deep Koalarization's decoder: (B, h, w, C) -> (B, 4h, 4w, 32w).

    conv-BN-ReLU 128w, up x2, 64w, 64w, up x2, 32w (layers dec1..dec4, up1, up2; w = ``width``).
    """
    x = apply_conv_bn_relu(x, channels(128, width), "dec1")
    x = layers.UpSampling2D(2, name="up1")(x)
    x = apply_conv_bn_relu(x, channels(64, width), "dec2")
    x = apply_conv_bn_relu(x, channels(64, width), "dec3")
    x = layers.UpSampling2D(2, name="up2")(x)
    return apply_conv_bn_relu(x, channels(32, width), "dec4")

# ---------------------------------------------------------------- colour hints (the guided family's layers)
HINT_CHANNELS = 3  # a, b (Lab units), mask
# Anchoring: a 3x3 Gaussian of this sigma (output-grid cells), 1 at the point.
ANCHOR_SIGMA = 0.75


def _anchor_kernel():
    offsets = np.arange(-1, 2, dtype=np.float32)
    bump = np.exp(-(offsets[:, None] ** 2 + offsets[None, :] ** 2) / (2 * ANCHOR_SIGMA**2))
    return bump.astype(np.float32)  # 1 at the centre


def _pool_points(hints, stride):
    """hints (B, H, W, 3) -> (mean ab of the points in each stride x stride cell (0 where none), presence)."""
    ab, mask = hints[..., :2], hints[..., 2:]
    if stride > 1:
        ab = ops.average_pool(ab, stride, strides=stride, padding="valid")
        count = ops.average_pool(mask, stride, strides=stride, padding="valid")
        mask = ops.max_pool(mask, stride, strides=stride, padding="valid")
        ab = ab / ops.maximum(count, 1e-6)
    return ab * mask, mask


@keras.saving.register_keras_serializable(package="colorize")
class PoolHints(layers.Layer):
    """The hint map at a decoder scale: (B, H, W, 3) -> (B, H/s, W/s, 3) = (a, b) / 110 of the points
    in each cell (their mean; 0 where none) and their presence (0 or 1)."""

    def __init__(self, stride, **kwargs):
        super().__init__(**kwargs)
        self.stride = int(stride)

    def call(self, hints):
        ab, mask = _pool_points(ops.cast(hints, "float32"), self.stride)
        return ops.concatenate([ab / AB_NORM, mask], axis=-1)

    def compute_output_shape(self, shape):
        scale = lambda n: None if n is None else n // self.stride
        return (shape[0], scale(shape[1]), scale(shape[2]), HINT_CHANNELS)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}


@keras.saving.register_keras_serializable(package="colorize")
class HintAnchor(layers.Layer):
    """[ab (B, h, w, 2), hints (B, H, W, 3)] -> ab with each point's colour blended in around it.

    On the output grid (``stride`` = H / h): weight w = min(1, sum of a 3x3
    Gaussian (1 at its centre) over the cells holding points), colour = the
    Gaussian-weighted mean of the points' ab; ab' = (1 - w) ab + w colour.
    Without points w = 0 and ab is returned as it came. No weights.
    """

    def __init__(self, stride, **kwargs):
        super().__init__(**kwargs)
        self.stride = int(stride)

    def call(self, inputs):
        ab, hints = inputs
        ab = ops.cast(ab, "float32")
        point_ab, mask = _pool_points(ops.cast(hints, "float32"), self.stride)
        bump = ops.convert_to_tensor(_anchor_kernel())
        weight = ops.conv(mask, bump[:, :, None, None], padding="same")
        spread = ops.depthwise_conv(point_ab, ops.tile(bump[:, :, None, None], (1, 1, 2, 1)), padding="same")
        colour = spread / ops.maximum(weight, 1e-6)
        weight = ops.minimum(weight, 1.0)
        return ab * (1.0 - weight) + colour * weight

    def compute_output_shape(self, shapes):
        return tuple(shapes[0])

    def get_config(self):
        return {**super().get_config(), "stride": self.stride}
