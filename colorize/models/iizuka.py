"""Iizuka, Simo-Serra & Ishikawa, "Let there be Color!" (SIGGRAPH 2016): global + local priors, joint classification.

    L (B, H, W, 1) in [0, 100] (normalised in the graph)
      low-level  6 conv-BN-ReLU, three of stride 2 (channels 64,128,128,256,256,512 x width)  -> (H/8, W/8)
        shared by two paths (the SAME layers, called twice):
      mid-level  the low-level features of L itself, conv 512w, conv 256w      -> (H/8, W/8, 256w), any H, W
      global     the low-level features of L resized in the graph to global_size x global_size:
                 4 conv-BN-ReLU (two of stride 2) -> (g/32, g/32, 512w), flatten,
                 fc 1024w -> fc 512w ("global_fc2") -> fc 256w                       -> (B, 256w)
      fusion     the global vector tiled over every mid-level position, concatenated, 1x1 conv 256w
      decoder    conv 128w, up x2, conv 64w, conv 64w, up x2, conv 32w, conv 3x3 to 2 + sigmoid,
                 scaled to [-AB_RANGE, AB_RANGE]                                    -> ab (B, H/2, W/2, 2), Lab
    class head (training only, :func:`training_model`): on global_fc2, fc 256w -> logits over the
                 photo classes, trained jointly: loss = MSE(ab) + class_weight * cross-entropy(class).

The global path always sees its fixed-size resize (as the paper's 224 x 224),
so any input size works: its fully connected layers get the same shape, and
the fusion tiles the resulting vector over however many positions the
mid-level path has. The saved colorizer holds the ab network alone (L -> ab,
like every family); the class head exists only in the model that training
fits, and its accuracy on the validation photos is logged every epoch
(``val_class_accuracy`` in the run's log). Registered as the ``iizuka`` family.
"""

import keras
from keras import layers

from colorize.models import get
from colorize.models.blocks import FuseGlobal, apply_colorization_decoder, apply_conv_bn_relu, channels
from colorize.models.colorizer import lightness_input

OUTPUT_STRIDE = get("iizuka").output_stride  # the registry is the one source
# ab of the sigmoid output: 0..1 maps to -AB_RANGE..AB_RANGE Lab units (covers the sRGB gamut's ab).
AB_RANGE = 128.0
# (filters at width 1, stride) of the shared low-level path (paper, table 1).
LOW_LEVEL = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1))
GLOBAL_CONVS = ((512, 2), (512, 1), (512, 2), (512, 1))
# The global path's input multiple: low-level /8 times the global convolutions' /4.
GLOBAL_MULTIPLE = 32
# The layer whose output the class head reads (the paper's 512-d global feature).
GLOBAL_FEATURE_LAYER = "global_fc2"
CLASS_OUTPUT = "class"


def _dense_relu(x, units, name):
    return layers.Dense(units, activation="relu", kernel_initializer="he_normal", name=name)(x)


def build(width=0.25, global_size=128):
    """The registry's builder: L (B, H, W, 1) in [0, 100] -> ab (B, H/2, W/2, 2) in Lab units.

    Args:
        width: channel multiplier (1.0: the paper's channels, about 60 M
            parameters at global_size 224, most of them in the first fully
            connected layer).
        global_size: side of the square the global path sees (paper: 224),
            a multiple of 32.

    Any batch size and any H, W divisible by 8.
    """
    global_size = int(global_size)
    if global_size < GLOBAL_MULTIPLE or global_size % GLOBAL_MULTIPLE:
        raise ValueError(f"global_size must be a positive multiple of {GLOBAL_MULTIPLE}, got {global_size}")
    lightness, normalised = lightness_input()
    # The low-level layers are created once and applied to both inputs: shared weights (the paper's point).
    low_level = []
    for index, (filters, stride) in enumerate(LOW_LEVEL, start=1):
        low_level.append((
            layers.Conv2D(channels(filters, width), 3, strides=stride, padding="same", use_bias=False,
                          kernel_initializer="he_normal", name=f"low{index}_conv"),
            layers.BatchNormalization(name=f"low{index}_bn"),
            layers.ReLU(name=f"low{index}_relu"),
        ))

    def apply_low_level(x):
        for conv, norm, relu in low_level:
            x = relu(norm(conv(x)))
        return x

    # Mid-level path: the photo at its own resolution.
    local = apply_low_level(normalised)
    local = apply_conv_bn_relu(local, channels(512, width), "mid1")
    local = apply_conv_bn_relu(local, channels(256, width), "mid2")

    # Global path: a fixed-size resize (antialiased: big photos are shrunk a lot), so the dense layers fit.
    small = layers.Resizing(global_size, global_size, interpolation="bilinear", antialias=True,
                            name="global_resize")(normalised)
    x = apply_low_level(small)
    for index, (filters, stride) in enumerate(GLOBAL_CONVS, start=1):
        x = apply_conv_bn_relu(x, channels(filters, width), f"global{index}", strides=stride)
    x = layers.Flatten(name="global_flatten")(x)
    x = _dense_relu(x, channels(1024, width), "global_fc1")
    x = _dense_relu(x, channels(512, width), GLOBAL_FEATURE_LAYER)
    global_vector = _dense_relu(x, channels(256, width), "global_fc3")

    x = FuseGlobal(name="fuse")([local, global_vector])
    x = apply_conv_bn_relu(x, channels(256, width), "fusion", kernel=1)
    x = apply_colorization_decoder(x, width)
    # Sigmoid as in the paper (ab in [0, 1] there), then Lab units in the graph; float32 under mixed precision.
    x = layers.Conv2D(2, 3, padding="same", activation="sigmoid", name="ab_sigmoid", dtype="float32")(x)
    ab = layers.Rescaling(2 * AB_RANGE, offset=-AB_RANGE, name="ab", dtype="float32")(x)
    return keras.Model(lightness, ab, name="iizuka")


def uses_class_labels(settings):
    """Whether training adds the joint classification loss (needs the photos' class labels)."""
    return not getattr(settings, "no_classification", False) and getattr(settings, "class_weight", 0.0) > 0


def training_model(network, settings):
    """The network plus the class head on its global feature: L -> [ab, class logits].

    ``settings.class_names`` (the classes of the training photos, set by the
    training command when :func:`uses_class_labels`) gives the number of classes.
    Without classification the network itself is trained.
    """
    if not uses_class_labels(settings):
        return network
    num_classes = len(settings.class_names)
    width = getattr(settings, "width", 0.25)
    features = network.get_layer(GLOBAL_FEATURE_LAYER).output
    x = _dense_relu(features, channels(256, width), "class_fc")
    logits = layers.Dense(num_classes, name=CLASS_OUTPUT, dtype="float32")(x)
    return keras.Model(network.input, [network.output, logits], name="iizuka_joint")


def compile_for_training(model, settings, train_images):
    """AdamW; MSE on ab (plus ``settings.class_weight`` x cross-entropy on the class for a joint model).

    ``model`` is the network (one output: ab) or :func:`training_model`'s
    joint model (two outputs: ab and class logits); batches are then
    (L, (ab, class index)). Returns {"class_weight": alpha used (0 without)}.
    """
    from colorize.models.losses import AbMeanSquaredError
    from colorize.models.optimizers import make_adamw

    optimizer = make_adamw(settings.lr, weight_decay=getattr(settings, "weight_decay", 1e-3))
    ab_loss = AbMeanSquaredError(downsample=OUTPUT_STRIDE)
    if len(model.outputs) == 1:
        model.compile(optimizer=optimizer, loss=ab_loss)
        return {"class_weight_used": 0.0}
    alpha = float(settings.class_weight)
    model.compile(
        optimizer=optimizer,
        loss=[ab_loss, keras.losses.SparseCategoricalCrossentropy(from_logits=True)],
        loss_weights=[1.0, alpha],
        metrics=[None, [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]],
    )
    return {"class_weight_used": alpha}
