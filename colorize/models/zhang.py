"""The classifier of Zhang, Isola & Efros, "Colorful Image Colorization" (ECCV 2016, fig. 2).

L (B, H, W, 1) in [0, 100] (normalised in the graph) -> logits over the Q ab
bins at a quarter of the resolution, (B, H/4, W/4, Q). Registered as the
``zhang`` family (``colorize.models``). Blocks (channels at width 1):

    conv1  64 x2   last conv stride 2          -> H/2
    conv2 128 x2   last conv stride 2          -> H/4
    conv3 256 x3   last conv stride 2          -> H/8
    conv4 512 x3
    conv5 512 x3   dilation 2
    conv6 512 x3   dilation 2
    conv7 512 x3
    conv8 256: 4x4 transposed conv stride 2, then 2 convs -> H/4
    logits: 1x1 conv to Q (linear)

Each block is conv 3x3 + ReLU repeated, then BatchNormalization (the paper's
order). Downsampling only by strides, no pooling. At width 1 with the four
512-channel middle blocks this is about 32 M parameters, as in the paper.
``middle_blocks`` keeps the first n of conv4..conv7, so any n >= 2 keeps the
dilated conv5; the Northeastern report's reduced model is width=0.5,
middle_blocks=2.
"""

import keras
from keras import layers

from colorize.models.colorizer import lightness_input
from colorize.quantize import ab_bins

# (name, filters, convs, dilation) of the 512-channel middle blocks, in paper order.
MIDDLE_BLOCKS = (
    ("conv4", 512, 3, 1),
    ("conv5", 512, 3, 2),
    ("conv6", 512, 3, 2),
    ("conv7", 512, 3, 1),
)


def _channels(filters, width):
    return max(8, int(round(filters * width)))


def apply_conv_block(x, filters, num_layers, stride=1, dilation=1, name="block"):
    """``num_layers`` conv 3x3 + ReLU, the last one with ``stride``, then BatchNorm.

    Layers are named ``{name}_1`` .. ``{name}_{num_layers}`` and ``{name}_bn``.
    He-normal initialisation suits the ReLUs.
    """
    for index in range(1, num_layers + 1):
        x = layers.Conv2D(
            filters,
            3,
            strides=stride if index == num_layers else 1,
            dilation_rate=dilation,
            padding="same",
            activation="relu",
            kernel_initializer="he_normal",
            name=f"{name}_{index}",
        )(x)
    return layers.BatchNormalization(name=f"{name}_bn")(x)


def build_zhang_model(width=1.0, middle_blocks=3, num_bins=None, name="colorize_zhang"):
    """Build the ab-bin classifier.

    Args:
        width: channel multiplier (channels rounded, at least 8).
        middle_blocks: how many of the 512-channel blocks conv4..conv7 to
            keep (0..4, first n in paper order; the paper has 4, the
            default 3 drops conv7).
        num_bins: number of output classes, default ``len(ab_bins())``.
        name: model name.

    Returns:
        keras.Model: L (B, H, W, 1) in [0, 100] -> logits (B, H/4, W/4, Q),
        for any batch size and H, W divisible by 8.
    """
    if not 0 <= middle_blocks <= len(MIDDLE_BLOCKS):
        raise ValueError(f"middle_blocks must be in 0..{len(MIDDLE_BLOCKS)}, got {middle_blocks}")
    num_bins = len(ab_bins()) if num_bins is None else int(num_bins)

    inputs, x = lightness_input()
    x = apply_conv_block(x, _channels(64, width), 2, stride=2, name="conv1")
    x = apply_conv_block(x, _channels(128, width), 2, stride=2, name="conv2")
    x = apply_conv_block(x, _channels(256, width), 3, stride=2, name="conv3")
    for block_name, filters, num_layers, dilation in MIDDLE_BLOCKS[:middle_blocks]:
        x = apply_conv_block(x, _channels(filters, width), num_layers, dilation=dilation, name=block_name)

    # conv8: learned x2 upsampling (the paper's 4x4 deconvolution), then two convs.
    x = layers.Conv2DTranspose(
        _channels(256, width),
        4,
        strides=2,
        padding="same",
        activation="relu",
        kernel_initializer="he_normal",
        name="conv8_1",
    )(x)
    for index in (2, 3):
        x = layers.Conv2D(
            _channels(256, width),
            3,
            padding="same",
            activation="relu",
            kernel_initializer="he_normal",
            name=f"conv8_{index}",
        )(x)
    x = layers.BatchNormalization(name="conv8_bn")(x)
    # float32 logits even under a mixed-precision policy (softmax/log in the loss).
    outputs = layers.Conv2D(num_bins, 1, name="logits", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=name)


def build(width=0.25, middle_blocks=2):
    """The registry's builder (see ``colorize.models``)."""
    return build_zhang_model(width=width, middle_blocks=middle_blocks)


def compile_for_training(network, settings, train_images):
    """AdamW and the class-rebalanced soft cross-entropy of Zhang et al.

    The empirical colour prior p over the Q bins is counted on a seeded
    sample of at most 2 M training pixels (a second or two); the rebalancing
    weights made from it (``settings.lam``, or none with ``settings.plain_ce``)
    travel inside the loss. Returns {"class_prior": p} for the run's settings.
    """
    from colorize.models import BINS, get
    from colorize.models.heads import compile_for_head

    return compile_for_head(network, BINS, settings, train_images, get("zhang").output_stride)
