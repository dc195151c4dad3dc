"""Small building blocks shared by the families that fuse pretrained features."""

import keras
from keras import layers, ops


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
