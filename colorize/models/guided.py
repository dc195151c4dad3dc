"""User-guided colorization (Zhang, Zhu, Isola, Geng, Lin, Yu & Efros, SIGGRAPH 2017) on the GAN generator.

    lightness  L (B, H, W, 1) in [0, 100]
    hints      (B, H, W, 3): a, b (Lab units) of the user's colour points and a
               mask (1 where a point is, 0 elsewhere; ab is 0 there too)
    reference  (B, Q + 1): a reference photo's ab histogram over the Q bins
               (sums to 1) and a flag (1 when a reference is given; all 0 when not)
      -> the ``unet`` family's regression network (frozen pretrained encoder,
         U-Net decoder): the GAN-trained default's layers, same names
      -> hint branches: at every decoder scale (strides 32, 16, 8, 4) the hints
         pooled to it (mean ab of the points in each cell, their presence) and
         the reference's global code tiled over it go through two 3x3
         convolutions; gated by the decoder's own features (so a colour spreads
         over what the decoder sees as one thing) and a zero-initialised 1x1
         convolution, they are added to the decoder's features
      -> anchoring: at the output grid, each point's colour is blended in around
         it (a fixed 3x3 Gaussian, weight 1 at the point), so a colour asked for
         holds where it was asked
      -> ab (B, H/4, W/4, 2), Lab units

Every branch layer is bias-free or multiplied by a bias-free one, so with no
hints (all zero) each branch adds exactly 0 and anchoring changes nothing:
the output is the base network's. By default the base (the GAN generator's
decoder, ``--init gan.keras``) is frozen and only the branches train
(``--train-base`` trains it too), so with no hints a guided model colorizes
exactly as the model it started from, however long it trains.

Training simulates the user (:func:`simulate_guidance`, in the graph): per
photo a geometric number of points (many photos get none), each the mean true
ab of a small square patch at a place drawn with a bias towards colourful
cells; the reference hint on a share of the photos, the histogram of the
true photo itself or of a random quarter of it (an augmented copy). The loss
is the L1 of ab / 110 on the output grid (:class:`HintTrainer`, the
``training_model`` hook). TensorFlow backend (the simulation's sampling).
"""

import math

import keras
from keras import layers

from colorize.hints import reference_length
from colorize.models import REGRESSION, get
from colorize.models.blocks import HINT_CHANNELS, FuseGlobal, HintAnchor, PoolHints, channels
from colorize.models.colorizer import HINTS_INPUT, REFERENCE_INPUT

OUTPUT_STRIDE = get("guided").output_stride  # the registry is the one source
BRANCH_PREFIX = "hint"
GLOBAL_FILTERS = 64

# The simulated user (training).
POINT_PROBABILITY = 0.125  # geometric: P(n points) = (1 - p)^n p; P(0) = 1/8, mean 7
MAX_POINTS = 50
PATCH_SIZES = (1, 3, 5, 7, 9)  # square patches, training pixels (Zhang et al. 2017: 1 to 9)
CHROMA_FLOOR = 10.0  # cell weight chroma + floor: colourful cells are picked more often
REFERENCE_SHARE = 0.5  # photos given a reference hint
CROPPED_REFERENCE_SHARE = 0.5  # of those, the histogram of a random quarter of the photo


class Guidance:
    """The hint inputs and branches handed to :func:`colorize.models.unet.build_decoder`."""

    def __init__(self, width):
        self.width = width
        self.hints = keras.Input(shape=(None, None, HINT_CHANNELS), name=HINTS_INPUT)
        self.reference = keras.Input(shape=(reference_length(),), name=REFERENCE_INPUT)
        self.inputs = [self.hints, self.reference]
        # Bias-free: no reference (all zeros) -> a zero code.
        self.code = layers.Dense(channels(GLOBAL_FILTERS, width), activation="relu", use_bias=False,
                                 name=f"{BRANCH_PREFIX}_reference")(self.reference)

    def inject(self, x, stride):
        filters = x.shape[-1]
        name = f"{BRANCH_PREFIX}{stride}"
        points = PoolHints(stride, name=f"{name}_pool")(self.hints)
        h = FuseGlobal(name=f"{name}_fuse")([points, self.code])
        for index in (1, 2):
            h = layers.Conv2D(filters, 3, padding="same", activation="relu", use_bias=False,
                              name=f"{name}_conv{index}")(h)
        gate = layers.Conv2D(filters, 1, activation="sigmoid", name=f"{name}_gate")(x)
        gated = layers.Multiply(name=f"{name}_gated")([h, gate])
        delta = layers.Conv2D(filters, 1, use_bias=False, kernel_initializer="zeros", name=f"{name}_out")(
            layers.Concatenate(name=f"{name}_join")([h, gated]))
        return layers.Add(name=f"{name}_add")([x, delta])

    def finish(self, outputs):
        return HintAnchor(OUTPUT_STRIDE, name=f"{BRANCH_PREFIX}_anchor")([outputs, self.hints])


def is_branch(layer):
    return layer.name.startswith(BRANCH_PREFIX)


def build(backbone="efficientnet_lite0", width=0.5, train_base=False):
    """The registry's builder: [L (B, H, W, 1), hints (B, H, W, 3), reference (B, Q + 1)] -> ab (B, H/4, W/4, 2).

    H and W multiples of 32. The base layers are the ``unet`` family's
    regression network's (same names: ``--init`` copies a trained GAN
    generator or regression U-Net in, :func:`initialize_from`); frozen
    unless ``train_base``. The branches start at zero: the output equals the
    base network's until they learn.
    """
    from colorize.models.backbones import build_backbone
    from colorize.models.unet import build_decoder

    encoder = build_backbone(backbone)
    guidance = Guidance(width)
    decoder = build_decoder(encoder, head=REGRESSION, width=width, guidance=guidance)
    if not train_base:
        for layer in decoder.layers:
            if not is_branch(layer) and layer.weights:
                layer.trainable = False
    lightness = keras.Input(shape=(None, None, 1), name="lightness")
    hints = keras.Input(shape=(None, None, HINT_CHANNELS), name=HINTS_INPUT)
    reference = keras.Input(shape=(reference_length(),), name=REFERENCE_INPUT)
    outputs = decoder([lightness] + list(encoder(lightness)) + [hints, reference])
    return keras.Model([lightness, hints, reference], outputs, name=f"guided_{backbone}")


def initialize(network, settings):
    """ImageNet weights into the encoder (training without ``--init``; the branches start at zero)."""
    from colorize.models.backbones import initialize_encoder

    initialize_encoder(network, settings)


def initialize_from(network, source):
    """``--init``: a trained ``gan`` generator's or regression ``unet``'s weights into the base layers,
    by layer name (the branches keep their zero start). Raises ValueError when they do not fit."""
    pairs = [(network.get_layer("encoder"), source.get_layer("encoder"))]
    target, origin = network.get_layer("decoder"), source.get_layer("decoder")
    known = {layer.name: layer for layer in origin.layers if layer.weights}
    for layer in target.layers:
        if layer.weights and not is_branch(layer):
            if layer.name not in known:
                raise ValueError(f"the starting model has no layer {layer.name} (another architecture or width?)")
            pairs.append((layer, known[layer.name]))
    for mine, theirs in pairs:
        shapes = [tuple(w.shape) for w in mine.weights], [tuple(w.shape) for w in theirs.weights]
        if shapes[0] != shapes[1]:
            raise ValueError(f"layer {mine.name} does not fit the starting model's (another width or backbone?)")
        mine.set_weights(theirs.get_weights())


def split_frozen(network):
    """(frozen encoder, decoder taking [L, features..., hints, reference])."""
    from colorize.models.backbones import split_encoder

    return split_encoder(network)


# ---------------------------------------------------------------- the simulated user (training)
def _histogram(ab, weights, bins):
    """ab (B, h, w, 2), weights (B, h, w) -> (B, Q): each sample's weighted share of its pixels nearest each bin."""
    import tensorflow as tf

    flat = tf.reshape(ab, (tf.shape(ab)[0], -1, 2))
    distance = tf.reduce_sum(tf.square(flat[:, :, None, :] - bins[None, None]), axis=-1)
    onehot = tf.one_hot(tf.argmin(distance, axis=-1), tf.shape(bins)[0])
    weights = tf.reshape(weights, (tf.shape(ab)[0], -1, 1))
    return tf.reduce_sum(onehot * weights, axis=1) / tf.maximum(tf.reduce_sum(weights, axis=1), 1e-6)


def simulate_reference(ab, generator, share=REFERENCE_SHARE, cropped_share=CROPPED_REFERENCE_SHARE):
    """The reference input a training batch gets: (B, Q + 1), float32.

    ab (B, H, W, 2) in Lab units (the truth). A ``share`` of the photos get
    the histogram of their own ab on the output grid (H/4), and of those a
    ``cropped_share`` that of a random quarter of the photo (an augmented
    copy, whose distribution differs a little); flag 1. The rest: zeros.
    """
    import tensorflow as tf

    from colorize.quantize import ab_bins

    ab = tf.cast(ab, tf.float32)
    grid = tf.nn.avg_pool2d(ab, OUTPUT_STRIDE, OUTPUT_STRIDE, "VALID")
    batch, height, width = tf.shape(grid)[0], tf.shape(grid)[1], tf.shape(grid)[2]
    crop = tf.cast(generator.uniform((batch,)) < cropped_share, tf.float32)
    top = tf.cast(generator.uniform((batch,)) * tf.cast(height // 2 + 1, tf.float32), tf.int32)
    left = tf.cast(generator.uniform((batch,)) * tf.cast(width // 2 + 1, tf.float32), tf.int32)
    rows = tf.range(height)[None, :, None]
    cols = tf.range(width)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < top[:, None, None] + tf.maximum(height // 2, 1))
              & (cols >= left[:, None, None]) & (cols < left[:, None, None] + tf.maximum(width // 2, 1)))
    weights = crop[:, None, None] * tf.cast(inside, tf.float32) + (1.0 - crop[:, None, None])
    histogram = _histogram(grid, weights, tf.constant(ab_bins(), tf.float32))
    flag = tf.cast(generator.uniform((batch, 1)) < share, tf.float32)
    return tf.concat([histogram * flag, flag], axis=-1)


def simulate_points(ab, generator, probability=POINT_PROBABILITY, max_points=MAX_POINTS, sizes=PATCH_SIZES):
    """The hint map a training batch gets: (B, H, W, 3) float32 (a, b, mask), from the true ab (B, H, W, 2).

    Per photo n ~ geometric(``probability``) points (at most ``max_points``);
    each at a random place, drawn over the output grid's cells with weight
    chroma + CHROMA_FLOOR (a bias towards colour), then a random pixel of the
    cell; each reveals the mean true ab of a square patch of a random side in
    ``sizes`` centred there, over that patch (overlaps: their mean).
    """
    import tensorflow as tf

    ab = tf.cast(ab, tf.float32)
    batch, height, width = tf.shape(ab)[0], tf.shape(ab)[1], tf.shape(ab)[2]
    uniform = generator.uniform((batch,), minval=1e-7, maxval=1.0)
    count = tf.minimum(tf.floor(tf.math.log(uniform) / math.log(1.0 - probability)), float(max_points))
    chroma = tf.nn.avg_pool2d(tf.norm(ab, axis=-1, keepdims=True), OUTPUT_STRIDE, OUTPUT_STRIDE, "VALID")
    grid_width = width // OUTPUT_STRIDE
    logits = tf.math.log(tf.reshape(chroma, (batch, -1)) + CHROMA_FLOOR)
    seed = tf.cast(generator.uniform_full_int((2,)), tf.int32)
    cells = tf.cast(tf.random.stateless_categorical(logits, max_points, seed), tf.int32)
    jitter = lambda: tf.cast(generator.uniform((batch, max_points)) * OUTPUT_STRIDE, tf.int32)
    y = (cells // grid_width) * OUTPUT_STRIDE + jitter()
    x = (cells % grid_width) * OUTPUT_STRIDE + jitter()
    size = tf.cast(generator.uniform((batch, max_points)) * len(sizes), tf.int32)
    valid = tf.range(max_points, dtype=tf.float32)[None, :] < count[:, None]
    index = tf.stack([tf.broadcast_to(tf.range(batch)[:, None], (batch, max_points)), y * width + x, size], axis=-1)
    centres = tf.scatter_nd(tf.reshape(index, (-1, 3)), tf.reshape(tf.cast(valid, tf.float32), (-1,)),
                            tf.stack([batch, height * width, len(sizes)]))
    centres = tf.reshape(tf.minimum(centres, 1.0), (batch, height, width, len(sizes)))
    total, cover = 0.0, 0.0
    for position, side in enumerate(sizes):
        pool = lambda t: tf.nn.avg_pool2d(t, side, 1, "SAME") if side > 1 else t
        here = centres[..., position : position + 1]
        total += pool(pool(ab) * here)
        cover += pool(here)
    mask = tf.cast(cover > 0, tf.float32)
    return tf.concat([total / tf.maximum(cover, 1e-6) * mask, mask], axis=-1)


@keras.saving.register_keras_serializable(package="colorize")
class HintTrainer(keras.Model):
    """What ``fit`` trains: the network (or its decoder on cached features) fed simulated hints.

    Batches (x, ab): x is L or [L, *encoder features]; ab (B, H, W, 2) the
    truth in Lab units. Each step draws the hint map and the reference from
    the truth (:func:`simulate_points`, :func:`simulate_reference`), appends
    them to x and trains on the L1 of ab / 110 at the output grid
    (``loss``; ``val_loss`` likewise on validation photos with freshly drawn
    hints). Calling the trainer runs the network with hints drawn for ``ab``.
    """

    def __init__(self, network, seed=0, **kwargs):
        super().__init__(**kwargs)
        import tensorflow as tf

        from colorize.models.losses import AbMeanAbsoluteError

        self.network = network
        self.seed = int(seed)
        self.generator = tf.random.Generator.from_seed(self.seed)
        self.l1_loss = AbMeanAbsoluteError(downsample=OUTPUT_STRIDE)
        self.tracker = keras.metrics.Mean(name="loss")
        self.built = True

    @property
    def metrics(self):
        return [self.tracker]

    def guided_inputs(self, x, ab):
        x = list(x) if isinstance(x, (list, tuple)) else [x]
        return x + [simulate_points(ab, self.generator), simulate_reference(ab, self.generator)]

    def call(self, inputs, training=False):
        return self.network(inputs, training=training)

    def _loss(self, data, training):
        x, ab, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self.l1_loss(ab, self.network(self.guided_inputs(x, ab), training=training))

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = self._loss(data, training=True)
        variables = self.network.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}

    def test_step(self, data):
        self.tracker.update_state(self._loss(data, training=False))
        return {"loss": self.tracker.result()}

    def get_config(self):
        return {**super().get_config(), "network": keras.saving.serialize_keras_object(self.network),
                "seed": self.seed}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


def training_model(network, settings):
    """The registry's hook: ``network`` (or its decoder on cached features) in a :class:`HintTrainer`."""
    return HintTrainer(network, seed=getattr(settings, "seed", 0), name="hint_trainer")


def compile_for_training(model, settings, train_images):
    """Adam at ``settings.lr`` on the L1 (a :class:`HintTrainer`, or the bare network for tests). Returns {}."""
    optimizer = keras.optimizers.Adam(learning_rate=settings.lr)
    if isinstance(model, HintTrainer):
        model.compile(optimizer=optimizer)
        model.optimizer.build(model.network.trainable_variables)
    else:
        from colorize.models.losses import AbMeanAbsoluteError

        model.compile(optimizer=optimizer, loss=AbMeanAbsoluteError(downsample=OUTPUT_STRIDE))
    return {}
