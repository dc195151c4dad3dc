"""The GAN colorizer of the GAN report: a U-Net generator against a PatchGAN (L, ab) discriminator.

    generator      L (B, H, W, 1) in [0, 100] -> ab (B, H/4, W/4, 2), Lab units
                   backbone efficientnet_lite0 (default): the ``unet`` family's
                   network with its regression head (frozen pretrained encoder),
                   so ``--init`` takes a trained regression U-Net; backbone
                   ``none``: the report's own U-Net with dilated convolutions in
                   the middle (:func:`build_dilated_unet`), trained from scratch
    discriminator  [L pooled to the generator's grid, ab] -> one logit per patch
                   (:mod:`colorize.models.patchgan`)

Losses (pix2pix, Isola et al. 2017, as in the report's reference tutorial):

    generator      gan_weight * BCE(D(L, G(L)), real) + l1_weight * L1
    discriminator  (BCE(D(L, ab), real) + BCE(D(L, G(L)), fake)) / 2

L1 is mean |G(L) - ab| / AB_NORM (:class:`colorize.models.losses.AbMeanAbsoluteError`):
ab divided by 110 lies in about [-1, 1], the range of pix2pix's images, so
pix2pix's lambda = 100 keeps its meaning (an L1 of 0.1 is 11 Lab units on
average; weighted, 10 against an adversarial term near 0.7). Both networks
use Adam with beta_1 = 0.5 at ``--lr`` (pix2pix: 2e-4).

:class:`GANTrainer` is what ``fit`` trains (the registry's ``training_model``
hook): a Keras model whose ``train_step`` updates both networks, so the
callbacks, early stopping and kill-safe resume of every family apply. Its
logs: ``loss`` = the generator's L1 (train) and ``val_loss`` = the L1 on the
validation photos, which picks the best model and stops the run (never the
adversarial loss, which says nothing about quality); ``g_adv`` (the
generator's adversarial part), ``d_loss``, and ``d_real`` / ``d_fake`` (the
discriminator's mean probability of "real" on true and on generated colours).
Its saved state (the run's backup) holds both networks and both optimizers;
the saved colorizer wraps the generator alone.

``--pretrain-epochs N``: the first N epochs train the generator on L1 alone
(DeOldify's "NoGAN"; the discriminator is not updated), then the adversarial
term joins. TensorFlow backend only (the custom step uses ``tf.GradientTape``).
"""

import keras
from keras import layers, ops

from colorize.models import REGRESSION, get
from colorize.models.blocks import apply_conv_bn_relu, channels
from colorize.models.heads import apply_head
from colorize.models.colorizer import lightness_input
from colorize.models.patchgan import build_discriminator
from colorize.models.unet import apply_up_merges

OUTPUT_STRIDE = get("gan").output_stride  # the registry is the one source
# Side at which the recognition term's classifier sees the photos (EfficientNet-Lite0's native 224 px:
# at the training size of 128 px its class scores were measured to mislead, see ../shared/PROBES.md).
RECOGNITION_SIZE = 224

NO_BACKBONE = "none"
# Channels of the dilated U-Net at width 1, by stride (the report's symmetric encoder-decoder).
DILATED_FILTERS = {1: 32, 2: 64, 4: 128, 8: 256, 16: 512}
DILATION_RATES = (2, 4, 2)
# pix2pix's Adam.
BETA_1 = 0.5
# Logs computed by Keras losses: under tf.distribute each replica's value is divided by the replica
# count (so that the summed gradients are the global batch's); the logs undo that.
DISTRIBUTION_SCALED = ("loss", "g_adv", "d_loss")


def build_dilated_unet(width=1.0):
    """The report's generator: L (B, H, W, 1) in [0, 100] -> ab (B, H/4, W/4, 2), Lab units.

    Encoder: conv-BN-ReLU at full resolution, then strided ones to 1/2, 1/4,
    1/8, 1/16; middle at 1/16: 3x3 convolutions dilated by 2, 4, 2 (a
    receptive field over most of a 128 px photo without further pooling);
    decoder: up x2 + the 1/8 skip, up x2 + the 1/4 skip and L pooled to 1/4,
    each merge followed by two conv-BN-ReLU; the regression head at 1/4 (the
    project's output grid, upsampled under the full-resolution L at
    inference). H and W multiples of 16. Starts gray (a zero head kernel).
    """
    lightness, normalised = lightness_input()
    x = apply_conv_bn_relu(normalised, channels(DILATED_FILTERS[1], width), "e1")
    skips = {}
    for stride in (2, 4, 8, 16):
        x = apply_conv_bn_relu(x, channels(DILATED_FILTERS[stride], width), f"e{stride}", strides=2)
        skips[stride] = x
    for index, rate in enumerate(DILATION_RATES, start=1):
        x = layers.Conv2D(channels(DILATED_FILTERS[16], width), 3, padding="same", dilation_rate=rate,
                          use_bias=False, kernel_initializer="he_normal", name=f"middle{index}_conv")(x)
        x = layers.BatchNormalization(name=f"middle{index}_bn")(x)
        x = layers.ReLU(name=f"middle{index}_relu")(x)
    x = apply_up_merges(x, skips, normalised, DILATED_FILTERS, width, strides=(8, 4))
    return keras.Model(lightness, apply_head(x, REGRESSION), name="gan_dilated_unet")


def build(backbone="efficientnet_lite0", width=1.0):
    """The registry's builder (the generator): L (B, H, W, 1) in [0, 100] -> ab (B, H/4, W/4, 2).

    H and W multiples of 32. A pretrained backbone gives the ``unet``
    family's regression network (same layers, so its trained weights fit);
    ``"none"`` the dilated U-Net.
    """
    if backbone == NO_BACKBONE:
        return build_dilated_unet(width)
    from colorize.models.unet import build as build_unet

    return build_unet(backbone=backbone, head=REGRESSION, width=width)


def _has_encoder(network):
    return any(layer.name == "encoder" for layer in network.layers)


def initialize(network, settings):
    """ImageNet weights into a pretrained generator's encoder (the dilated U-Net has none)."""
    if _has_encoder(network):
        from colorize.models.backbones import initialize_encoder

        initialize_encoder(network, settings)


def split_frozen(network):
    """(frozen encoder, trainable decoder) of a pretrained generator; None for the dilated U-Net."""
    if not _has_encoder(network):
        return None
    from colorize.models.backbones import split_encoder

    return split_encoder(network)


def unscale_loss_for_distribution(value):
    """A Keras loss's value inside a ``tf.distribute`` replica (divided by the replica count) -> the loss.

    Keras's own ``keras.src.losses.loss.unscale_loss_for_distribution`` is private; this is the same
    rule. Other backends and one replica: ``value`` unchanged.
    """
    if keras.backend.backend() != "tensorflow":
        return value
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return value * float(replicas) if replicas > 1 else value


@keras.saving.register_keras_serializable(package="colorize")
class GANTrainer(keras.Model):
    """Generator and discriminator trained together by ``fit`` (TensorFlow backend).

    Args:
        generator: the trainable generator. Inputs: L (B, H, W, 1) in
            [0, 100], or a list whose first entry is L (the decoder of a
            pretrained generator takes [L, *cached encoder features]);
            output ab (B, H/s, W/s, 2) in Lab units.
        discriminator: [L (B, h, w, 1), ab (B, h, w, 2)] -> patch logits.
        gan_weight: weight of the adversarial term in the generator's loss
            (0: L1 alone, and the discriminator is never run).
        l1_weight: weight of the L1 term (on ab / AB_NORM).
        output_stride: s; the truth's ab and L are average-pooled by it to
            the generator's grid before the discriminator sees them.
        pretrain_epochs: epochs of ``fit`` on L1 alone before the
            adversarial term (and the discriminator's updates) begin; counted
            from the run's first epoch, so a resumed run continues the count.

    Batches: (x, ab) with ab (B, H, W, 2) in Lab units. ``compile`` takes
    both optimizers and builds them, so the first backup holds their state.
    Calling the trainer runs the generator.
    """

    def __init__(self, generator, discriminator, gan_weight=1.0, l1_weight=100.0, output_stride=OUTPUT_STRIDE,
                 pretrain_epochs=0, recognition_weight=0.0, neutral_weight=0.0, recognition_size=RECOGNITION_SIZE,
                 **kwargs):
        super().__init__(**kwargs)
        from colorize.models.losses import AbMeanAbsoluteError

        self.generator = generator
        self.discriminator = discriminator
        self.gan_weight = float(gan_weight)
        self.l1_weight = float(l1_weight)
        self.output_stride = int(output_stride)
        self.pretrain_epochs = int(pretrain_epochs)
        self.recognition_weight = float(recognition_weight)
        self.neutral_weight = float(neutral_weight)
        self.recognition_size = int(recognition_size)
        # The frozen ImageNet classifier of the recognition term: EfficientNet-Lite0, the models' own
        # encoder, never Lite2 (the evaluation's judge must stay out of every loss).
        self.recognizer = _recognizer() if self.recognition_weight > 0 else None
        # 1 when the adversarial term is on; set at every epoch's start by fit (see _AdversarialSwitch).
        self.adversarial_gate = keras.Variable(1.0 if self.pretrain_epochs == 0 else 0.0, trainable=False,
                                               name="adversarial_gate")
        self.l1_loss = AbMeanAbsoluteError(downsample=self.output_stride)
        self.bce = keras.losses.BinaryCrossentropy(from_logits=True)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "g_adv", "d_loss", "d_real", "d_fake", "g_recognition", "g_neutral")}
        self.discriminator_optimizer = None
        self.built = True  # both networks are built functional models

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, generator_optimizer, discriminator_optimizer, **kwargs):
        """Both optimizers, built on their network's weights (a resume restores into them)."""
        super().compile(optimizer=generator_optimizer, **kwargs)
        self.discriminator_optimizer = discriminator_optimizer
        self.optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def fit(self, *args, **kwargs):
        """keras.Model.fit, with the callback that switches the adversarial term on after pretraining."""
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _AdversarialSwitch()]
        return super().fit(*args, **kwargs)

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    # ------------------------------------------------------------------ steps
    def _pooled(self, x, ab):
        """(L, ab) of a batch on the generator's grid: (B, h, w, 1) and (B, h, w, 2)."""
        lightness = x[0] if isinstance(x, (list, tuple)) else x
        if self.output_stride > 1:
            pool = lambda t: ops.average_pool(t, self.output_stride, strides=self.output_stride, padding="valid")
            lightness, ab = pool(lightness), pool(ab)
        return ops.cast(lightness, "float32"), ops.cast(ab, "float32")

    def _record(self, batch, **values):
        for name, value in values.items():
            if name in DISTRIBUTION_SCALED:  # per-replica share of the loss -> the loss itself, as Keras logs it
                value = unscale_loss_for_distribution(value)
            self.trackers[name].update_state(value, sample_weight=batch)
        return {name: self.trackers[name].result() for name in values}

    def _step(self, data, train_generator=True):
        import tensorflow as tf

        x, ab, _ = keras.utils.unpack_x_y_sample_weight(data)
        adversarial = self.gan_weight > 0
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(x, training=train_generator)
            l1 = self.l1_loss(ab, fake)
            g_loss = self.l1_weight * l1
            extra = self._photo_terms(x, ab, fake)
            for name, weight in (("g_recognition", self.recognition_weight), ("g_neutral", self.neutral_weight)):
                if name in extra:
                    g_loss = g_loss + weight * extra[name]
            if adversarial:
                lightness, real = self._pooled(x, ab)
                real_logits = self.discriminator([lightness, real], training=True)
                fake_logits = self.discriminator([lightness, ops.cast(fake, "float32")], training=True)
                d_loss = 0.5 * (self.bce(ops.ones_like(real_logits), real_logits)
                                + self.bce(ops.zeros_like(fake_logits), fake_logits))
                g_adv = self.bce(ops.ones_like(fake_logits), fake_logits)
                on = ops.cast(self.adversarial_gate, "float32")  # 0 while pretraining on L1 alone
                g_loss = g_loss + on * self.gan_weight * g_adv
        batch = ops.cast(ops.shape(ab)[0], "float32")
        logs = self._record(batch, loss=l1, **extra)
        if train_generator:
            variables = self.generator.trainable_variables
            self.optimizer.apply_gradients(zip(g_tape.gradient(g_loss, variables), variables))
        if adversarial:
            variables = self.discriminator.trainable_variables
            # Zero gradients leave Adam's moments, and so the weights, untouched while pretraining.
            gradients = [on * g for g in d_tape.gradient(d_loss, variables)] if train_generator else \
                d_tape.gradient(d_loss, variables)
            self.discriminator_optimizer.apply_gradients(zip(gradients, variables))
            logs.update(self._record(batch, g_adv=g_adv, d_loss=d_loss,
                                     d_real=ops.mean(ops.sigmoid(real_logits)), d_fake=ops.mean(ops.sigmoid(fake_logits))))
        return logs

    def _photo_terms(self, x, ab, fake):
        """The optional generator terms on the colorized photo: {"g_recognition": KL of the frozen
        classifier's classes on the true vs the colorized photo, "g_neutral": chroma added where the
        truth is neutral}; only those with a weight above 0."""
        from colorize.models.losses import class_distribution_divergence, lab_to_rgb, neutral_chroma_penalty

        terms = {}
        if self.neutral_weight > 0:
            terms["g_neutral"] = neutral_chroma_penalty(fake, self._pooled(x, ab)[1])
        if self.recognizer is not None:
            lightness = ops.cast(x[0] if isinstance(x, (list, tuple)) else x, "float32")
            size = (self.recognition_size, self.recognition_size)
            full = ops.shape(lightness)[1:3]
            colorized = ops.image.resize(ops.cast(fake, "float32"), full, interpolation="bilinear")
            photos = ops.concatenate([lab_to_rgb(lightness, ops.cast(ab, "float32")), lab_to_rgb(lightness, colorized)])
            logits = self.recognizer(ops.image.resize(photos, size, interpolation="bilinear"), training=False)
            count = ops.shape(lightness)[0]
            terms["g_recognition"] = class_distribution_divergence(logits[:count], logits[count:])
        return terms

    def train_step(self, data):
        return self._step(data)

    def train_discriminator_on_batch(self, x, ab):
        """One discriminator update on a batch, the generator fixed (inference mode). Returns the logs
        (``d_real`` / ``d_fake``: its mean P(real) on true and generated colours before the update)."""
        return {name: float(value) for name, value in self._step((x, ab), train_generator=False).items()}

    def test_step(self, data):
        """Validation: the generator's L1 alone (``val_loss``), in inference mode."""
        x, ab, _ = keras.utils.unpack_x_y_sample_weight(data)
        l1 = self.l1_loss(ab, self.generator(x, training=False))
        return self._record(ops.cast(ops.shape(ab)[0], "float32"), loss=l1)

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "gan_weight": self.gan_weight,
            "l1_weight": self.l1_weight,
            "output_stride": self.output_stride,
            "pretrain_epochs": self.pretrain_epochs,
            "recognition_weight": self.recognition_weight,
            "neutral_weight": self.neutral_weight,
            "recognition_size": self.recognition_size,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


class _AdversarialSwitch(keras.callbacks.Callback):
    """Opens a :class:`GANTrainer`'s adversarial gate at epoch ``pretrain_epochs`` (closed before it).

    Epoch numbers are the run's own (a resumed run starts at its first
    unfinished epoch), so an interruption never restarts the pretraining.
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.model.adversarial_gate.assign(1.0 if epoch >= self.model.pretrain_epochs else 0.0)


def _recognizer():
    """Frozen EfficientNet-Lite0 with its ImageNet classifier: RGB [0, 255] (B, S, S, 3) -> logits (B, 1000)."""
    from colorize.models.efficientnet_lite import efficientnet_lite

    classifier = efficientnet_lite("lite0", include_top=True)
    classifier.trainable = False
    return classifier


def training_model(generator, settings):
    """The registry's hook: ``generator`` (the network, or its decoder when the encoder's features
    are cached) and a new PatchGAN discriminator (``settings.disc_filters``) in a :class:`GANTrainer`."""
    return GANTrainer(generator, build_discriminator(settings.disc_filters), gan_weight=settings.gan_weight,
                      l1_weight=settings.l1_weight, pretrain_epochs=settings.pretrain_epochs,
                      recognition_weight=getattr(settings, "recognition_weight", 0.0),
                      neutral_weight=getattr(settings, "neutral_weight", 0.0), name="gan_trainer")


def make_adam(learning_rate):
    """pix2pix's Adam: beta_1 0.5."""
    return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=BETA_1)


def compile_for_training(model, settings, train_images):
    """A :class:`GANTrainer`: both Adams at ``settings.lr``. The generator alone (as the shared
    family tests train it): Adam and the L1 loss. ``train_images`` is not needed. Returns {}."""
    if isinstance(model, GANTrainer):
        model.compile(make_adam(settings.lr), make_adam(settings.lr))
    else:
        from colorize.models.losses import AbMeanAbsoluteError

        model.compile(optimizer=make_adam(settings.lr), loss=AbMeanAbsoluteError(downsample=OUTPUT_STRIDE))
    return {}
