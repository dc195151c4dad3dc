"""The fusion colorizer of the Northeastern report and the Vlore paper (Deep Koalarization).

    L (B, H, W, 1) in [0, 100]
      -> encoder on L: 8 conv-BN-ReLU layers, three of stride 2       -> (H/8, W/8, 256w)
      -> global embedding of the pretrained backbone on the gray RGB of L (frozen),
         tiled over every bottleneck position and concatenated (the fusion layer),
         then a 1x1 conv-BN-ReLU to 256w channels
      -> decoder: conv 128w, up x2, conv 64w, conv 64w, up x2, conv 32w
      -> head at 1/2 resolution: ab (regression) or logits over the Q bins

The reports fuse ResNet50 (Northeastern) or Inception-ResNet-v2 (Vlore)
features; any backbone of :mod:`colorize.models.backbones` works, the offline
default is EfficientNet-Lite0. The backbone is the frozen ``encoder``
sub-model (only its pooled embedding is used), so training caches it once
(:func:`split_frozen`). Registered as the ``fusion`` family.
"""

import keras

from colorize.models import REGRESSION, get
from colorize.models.backbones import build_backbone, initialize_encoder, split_encoder
from colorize.models.blocks import FuseGlobal, apply_colorization_decoder, apply_conv_bn_relu, channels
from colorize.models.heads import apply_head
from colorize.models.colorizer import lightness_input

OUTPUT_STRIDE = get("fusion").output_stride  # the registry is the one source
# (filters at width 1, stride) of the encoder on L, as in Deep Koalarization.
ENCODER = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 1), (256, 1))


def build_colorizing_part(encoder, head=REGRESSION, width=0.5):
    """The trainable part: [L, embedding] -> ab or logits at 1/2 resolution."""
    lightness, x = lightness_input()
    embedding = keras.Input(shape=(encoder.output.shape[-1],), name="embedding")
    for index, (filters, stride) in enumerate(ENCODER, start=1):
        x = apply_conv_bn_relu(x, channels(filters, width), f"enc{index}", strides=stride)
    x = FuseGlobal(name="fuse")([x, embedding])
    x = apply_conv_bn_relu(x, channels(256, width), "fusion", kernel=1)
    x = apply_colorization_decoder(x, width)
    outputs = apply_head(x, head)
    return keras.Model([lightness, embedding], outputs, name="decoder")


def build(backbone="efficientnet_lite0", head=REGRESSION, width=0.5):
    """The registry's builder: L (B, H, W, 1) in [0, 100] -> ab (B, H/2, W/2, 2) or logits (B, H/2, W/2, Q).

    H and W multiples of 8 (32 keeps the backbone's pooling exact).
    """
    encoder = build_backbone(backbone, skips=False)
    trainable = build_colorizing_part(encoder, head=head, width=width)
    lightness = keras.Input(shape=(None, None, 1), name="lightness")
    embedding = encoder(lightness)
    return keras.Model(lightness, trainable([lightness, embedding]), name=f"fusion_{backbone}")


# The pretrained encoder's hooks (see colorize.models): ImageNet weights before training, and
# the frozen encoder apart from the trainable rest so training can cache its features.
initialize = initialize_encoder
split_frozen = split_encoder


def compile_for_training(model, settings, train_images):
    """AdamW and the head's loss on the 1/2 grid."""
    from colorize.models.heads import compile_for_head

    return compile_for_head(model, settings.head, settings, train_images, OUTPUT_STRIDE)
