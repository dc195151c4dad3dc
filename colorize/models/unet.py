"""A U-Net on a pretrained ImageNet encoder (the GAN report's reference tutorial; Shariatnia 2020).

    L (B, H, W, 1) in [0, 100]
      -> encoder: the backbone on the gray RGB of L (frozen) -> f4, f8, f16, f32, embedding
      -> decoder: f32 (+ the global embedding tiled over it) up x2 + f16, up x2 + f8,
         up x2 + f4 and L pooled to 1/4, each merge followed by two conv-BN-ReLU
      -> head at 1/4 resolution: ab (regression) or logits over the Q bins

The encoder is the ``encoder`` sub-model, the rest the ``decoder`` sub-model
(inputs: L, f4, f8, f16, f32, embedding), so a training run can compute the
frozen encoder's features once and train the decoder alone on them
(:func:`split_frozen`; ``colorize-train unet`` does this by default).
Registered as the ``unet`` family.
"""

import keras
from keras import layers

from colorize.models import REGRESSION, get
from colorize.models.backbones import SKIP_STRIDES, build_backbone, initialize_encoder, split_encoder
from colorize.models.blocks import FuseGlobal, apply_conv_bn_relu, channels
from colorize.models.heads import apply_head
from colorize.models.colorizer import lightness_input

OUTPUT_STRIDE = get("unet").output_stride  # the registry is the one source
# Decoder channels at width 1, from the deepest merge (stride 32) to stride 4.
DECODER_FILTERS = {32: 192, 16: 128, 8: 96, 4: 64}


def apply_up_merges(x, skips, normalised, filters, width, strides, inject=None):
    """The U-Net's way up: for each stride, up x2, concatenate ``skips[stride]`` (and at the output
    stride L pooled to it), two conv-BN-ReLU of ``filters[stride]`` channels. Returns the last map.

    ``normalised``: L normalised (B, H, W, 1); ``strides``: decreasing, ending at OUTPUT_STRIDE.
    ``inject``: None, or ``inject(x, stride) -> x`` applied after each stride's convolutions (the
    ``guided`` family adds its hints there).
    """
    for stride in strides:
        x = layers.UpSampling2D(2, name=f"up{stride}")(x)
        merged = [x, skips[stride]]
        if stride == OUTPUT_STRIDE:
            merged.append(layers.AveragePooling2D(OUTPUT_STRIDE, name="lightness_pool")(normalised))
        x = layers.Concatenate(name=f"merge{stride}")(merged)
        for index in (1, 2):
            x = apply_conv_bn_relu(x, channels(filters[stride], width), f"d{stride}_{index}")
        if inject is not None:
            x = inject(x, stride)
    return x


def build_decoder(encoder, head=REGRESSION, width=1.0, guidance=None):
    """The trainable part: [L, f4, f8, f16, f32, embedding] -> ab or logits at 1/4 resolution.

    ``guidance``: None, or an object with ``inputs`` (extra keras.Input, appended to the decoder's),
    ``inject(x, stride) -> x`` (after the stride-32 convolution and after each merge) and
    ``finish(outputs) -> outputs`` (the ``guided`` family's hints; the layers named here keep
    their names, so a trained U-Net's weights fit by name).
    """
    lightness, normalised = lightness_input()
    shapes = [tuple(t.shape) for t in encoder.outputs]
    skips = {s: keras.Input(shape=(None, None, shape[-1]), name=f"f{s}") for s, shape in zip(SKIP_STRIDES, shapes)}
    embedding = keras.Input(shape=(shapes[-1][-1],), name="embedding")
    context = layers.Dense(channels(128, width), activation="relu", name="embedding_proj")(embedding)
    x = FuseGlobal(name="fuse")([skips[32], context])
    x = apply_conv_bn_relu(x, channels(DECODER_FILTERS[32], width), "d32", kernel=1)
    inject = None if guidance is None else guidance.inject
    if inject is not None:
        x = inject(x, 32)
    x = apply_up_merges(x, skips, normalised, DECODER_FILTERS, width, strides=(16, 8, 4), inject=inject)
    outputs = apply_head(x, head)
    inputs = [lightness] + [skips[s] for s in SKIP_STRIDES] + [embedding]
    if guidance is not None:
        outputs = guidance.finish(outputs)
        inputs += list(guidance.inputs)
    return keras.Model(inputs, outputs, name="decoder")


def build(backbone="efficientnet_lite0", head=REGRESSION, width=1.0):
    """The registry's builder: L (B, H, W, 1) in [0, 100] -> ab (B, H/4, W/4, 2) or logits (B, H/4, W/4, Q).

    H and W multiples of 32. The encoder has random weights here; training
    loads the ImageNet ones (:func:`initialize`), a saved model has its own.
    """
    encoder = build_backbone(backbone)
    decoder = build_decoder(encoder, head=head, width=width)
    lightness = keras.Input(shape=(None, None, 1), name="lightness")
    return keras.Model(lightness, decoder([lightness] + list(encoder(lightness))), name=f"unet_{backbone}")


# The pretrained encoder's hooks (see colorize.models): ImageNet weights before training, and
# the frozen encoder apart from the trainable rest so training can cache its features.
initialize = initialize_encoder
split_frozen = split_encoder


def compile_for_training(model, settings, train_images):
    """AdamW and the head's loss (L2 on ab, or the rebalanced cross-entropy) on the 1/4 grid."""
    from colorize.models.heads import compile_for_head

    return compile_for_head(model, settings.head, settings, train_images, OUTPUT_STRIDE)
