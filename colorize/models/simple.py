"""The CS 512 report's model 1: a plain L2 regression CNN from L to ab.

3x3 convolutions with ReLU; downsampling only by stride-2 convolutions (no
pooling); upsampling blocks mirror them back to the input size; a final 3x3
convolution gives the 2 ab channels (linear, in normalised ab units), scaled
to Lab units in the graph. At width 1 it has about 3.9 M parameters, like the
report's. Registered as the ``simple`` family (``colorize.models``).
"""

import keras
from keras import layers

from colorize.models.colorizer import lightness_input
from colorize.models.heads import regression_output

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
        keras.Model mapping L (B, H, W, 1) in [0, 100] to ab (B, H, W, 2) in
        Lab units, for any batch size and any H, W divisible by 8.
    """
    inputs, x = lightness_input()
    for index, filters in enumerate(BASE_FILTERS, start=1):
        x = apply_down_block(x, _channels(filters, width), name=f"enc{index}")
    x = layers.Conv2D(
        _channels(BOTTLENECK_FILTERS, width), 3, padding="same", activation="relu", name="bottleneck"
    )(x)
    for index, filters in enumerate(reversed(BASE_FILTERS), start=1):
        x = apply_up_block(x, _channels(filters, width), name=f"dec{index}")
    return keras.Model(inputs, regression_output(x), name=name)


def build(width=1.0):
    """The registry's builder (see ``colorize.models``)."""
    return build_simple_model(width=width)


def compile_for_training(network, settings, train_images):
    """Adam and the report's L2 loss on normalised ab (``settings.lr``). No extra settings."""
    from colorize.models.losses import AbMeanSquaredError

    network.compile(optimizer=keras.optimizers.Adam(settings.lr), loss=AbMeanSquaredError())
    return {}
