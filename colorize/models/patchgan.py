"""The PatchGAN discriminator of pix2pix (Isola et al. 2017), on (L, ab) pairs.

    L (B, h, w, 1) in [0, 100], ab (B, h, w, 2) in Lab units
      -> concat(normalised L, ab / AB_NORM)                      (B, h, w, 3)
      -> 4x4 conv stride 2, F filters, LeakyReLU 0.2 (no norm)    h/2
      -> 4x4 conv stride 2, 2F, BatchNorm, LeakyReLU             h/4
      -> 4x4 conv stride 1, 4F, BatchNorm, LeakyReLU             h/4
      -> 4x4 conv stride 1, 1 channel                            (B, h/4, w/4, 1) logits

One logit per overlapping patch (receptive field 34 x 34 of the input grid):
"is this patch of colours plausible for this lightness?". The GAN family
feeds it the generator's grid (1/4 of the photo, so a patch covers up to
136 px of the photo), with L pooled to it. Fully convolutional: any batch
size, any h, w from 4 up (multiples of 4 keep the patches aligned).
"""

import keras
from keras import layers

from colorize.color import AB_NORM, L_CENT, L_NORM


def build_discriminator(filters=64, name="discriminator"):
    """The discriminator: [L, ab] -> logits (B, h/4, w/4, 1); sigmoid(logit) = P(real).

    ``filters``: F, channels of the first convolution (pix2pix: 64).
    Logits in float32 (the BCE on them stays finite under mixed precision).
    """
    filters = int(filters)
    if filters < 1:
        raise ValueError(f"discriminator filters must be at least 1, got {filters}")
    lightness = keras.Input(shape=(None, None, 1), name="lightness")
    ab = keras.Input(shape=(None, None, 2), name="ab")
    x = layers.Concatenate(name="pair")([
        layers.Rescaling(1.0 / L_NORM, offset=-L_CENT / L_NORM, name="normalize_l")(lightness),
        layers.Rescaling(1.0 / AB_NORM, name="normalize_ab")(ab),
    ])
    init = keras.initializers.RandomNormal(stddev=0.02)  # pix2pix's (DCGAN's) initialisation
    for index, (multiple, stride, norm) in enumerate(((1, 2, False), (2, 2, True), (4, 1, True)), start=1):
        x = layers.Conv2D(filters * multiple, 4, strides=stride, padding="same", use_bias=not norm,
                          kernel_initializer=init, name=f"d{index}_conv")(x)
        if norm:
            x = layers.BatchNormalization(name=f"d{index}_bn")(x)
        x = layers.LeakyReLU(0.2, name=f"d{index}_lrelu")(x)
    logits = layers.Conv2D(1, 4, padding="same", kernel_initializer=init, dtype="float32", name="patch_logits")(x)
    return keras.Model([lightness, ab], logits, name=name)
