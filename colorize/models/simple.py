"""The CS 512 report's model 1: a plain L2 regression CNN from L to ab.

3x3 convolutions with ReLU; downsampling only by stride-2 convolutions (no
pooling); upsampling blocks mirror them back to the input size; a final 3x3
convolution gives the 2 ab channels (linear, in normalised ab units).
At width 1 it has about 3.9 M parameters, like the report's.
"""

import keras
from keras import layers

# Total stride of the encoder: H and W must be divisible by this.
INPUT_MULTIPLE = 8
BASE_FILTERS = (64, 128, 256)
BOTTLENECK_FILTERS = 512


def _channels(filters, width):
    return max(8, int(round(filters * width)))


def apply_down_block(x, filters, name):
    """Conv 3x3 + ReLU, then a stride-2 conv 3x3 + ReLU: (H, W) -> (H/2, W/2)."""
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv")(x)
    return layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu", name=f"{name}_down")(x)


def apply_up_block(x, filters, name):
    """Nearest-neighbour x2 upsampling then conv 3x3 + ReLU: (H, W) -> (2H, 2W)."""
    x = layers.UpSampling2D(2, name=f"{name}_up")(x)
    return layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv")(x)


def build_simple_model(width=1.0, name="colorize_simple"):
    """Build the L2 regression colorizer.

    Args:
        width: channel multiplier (1.0 = the report's ~3.9 M parameters).
        name: model name.

    Returns:
        keras.Model mapping normalised L (B, H, W, 1) to normalised ab
        (B, H, W, 2), for any batch size and any H, W divisible by 8.
    """
    inputs = keras.Input(shape=(None, None, 1), name="lightness")
    x = inputs
    for index, filters in enumerate(BASE_FILTERS, start=1):
        x = apply_down_block(x, _channels(filters, width), name=f"enc{index}")
    x = layers.Conv2D(
        _channels(BOTTLENECK_FILTERS, width), 3, padding="same", activation="relu", name="bottleneck"
    )(x)
    for index, filters in enumerate(reversed(BASE_FILTERS), start=1):
        x = apply_up_block(x, _channels(filters, width), name=f"dec{index}")
    outputs = layers.Conv2D(2, 3, padding="same", name="ab")(x)
    return keras.Model(inputs, outputs, name=name)
