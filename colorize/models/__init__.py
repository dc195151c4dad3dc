"""The family registry: every kind of colorizer the project can build, train and load.

A *family* is one architecture from the source reports. Its entry says, as
plain data that needs no Keras (so ``--help`` stays instant):

    name            registry key, saved in every .keras file of the family
    module          the module that builds it, imported only when needed
    head            REGRESSION (the network returns ab in Lab units) or
                    BINS (logits over the Q ab bins, decoded by the annealed mean)
    input_multiple  height and width of the network input must be multiples of it
    output_stride   input size / output size of the network
    script          which of the design card's root script pairs serves it
                    ("simple": train_simple.py / colorize_simple.py,
                    "complex": train_complex.py --arch NAME / colorize_complex.py)
    model_options   keyword arguments of the builder, as command-line options
    train_options   options of its loss / optimizer, as command-line options
    defaults        its training defaults (size, lr, ...)
    tiny            builder keywords of a seconds-fast model for the tests
    init_from       other families whose trained networks are this one's too
                    (``--init`` accepts their models)
    backends        the Keras backends it trains on (empty: every one)

The family's module provides two functions (and optionally two more):

    build(**model_options) -> keras.Model
        L (B, H, W, 1) in [0, 100] -> the head's output: ab (B, H/s, W/s, 2)
        in Lab units, or logits (B, H/s, W/s, Q); any batch size and any
        H, W divisible by ``input_multiple`` (s = ``output_stride``).
    compile_for_training(network, settings, train_images) -> dict
        Compile ``network`` with the family's optimizer and loss (loss on
        y = ab in Lab units). ``settings`` holds the parsed options;
        ``train_images`` is uint8 RGB (N, S, S, 3). Returns extra values to
        record in the run's settings file.
    initialize(network, settings)                               (optional)
        Put pretrained weights in before training (e.g. an ImageNet
        backbone); never called when a saved model is loaded.
    training_model(network, settings) -> keras.Model            (optional)
        The model ``fit`` trains when it is not the network itself (a GAN:
        generator and discriminator together); the saved colorizer still
        wraps ``network`` alone. With cached encoder features (below)
        ``network`` is the trainable part.
    split_frozen(network) -> (encoder, trainable)               (optional)
        A frozen encoder and the trainable rest, which takes
        [L] + the encoder's outputs: training then computes the encoder's
        features once and trains the rest alone (``--cache-features``).
    initialize_from(network, source)                            (optional)
        ``--init``: put a trained network's weights (``source``, of this
        family or one in ``init_from``) into ``network``. Default: all of
        them, in order (the same network); a family that adds layers to
        another's copies by name.
    uses_class_labels(settings) -> bool                         (optional)
        True when training needs each photo's class (its folder's name):
        batches are then (L, (ab, class index)), ``settings.class_names``
        lists the classes, and ``training_model`` adds a class output
        (Iizuka et al.'s joint classification). Default False.

A family whose builder has a ``head`` option ("regression" or "bins")
records the head it was built with in the saved model.

Adding a family is one module with those two functions and one ``register``
line below. Nothing outside this module branches on a family name: callers
ask a family for its builder, options and head.
"""

from dataclasses import dataclass, field
import importlib
import math

REGRESSION = "regression"
BINS = "bins"
HEADS = (REGRESSION, BINS)


@dataclass(frozen=True)
class Option:
    """One command-line option of a family: ``--flag`` stored as ``dest``.

    ``type`` None makes a switch (store_true, default False). A number's
    bounds: ``minimum`` / ``maximum`` (None: none), each exclusive or not;
    float values must also be finite. :meth:`problem` checks a value against
    them, so option checking asks the registry instead of knowing the options.
    """

    flag: str
    type: object
    default: object
    help: str
    choices: tuple = None
    aliases: tuple = ()
    minimum: float = None
    maximum: float = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False

    @property
    def dest(self):
        return self.flag.lstrip("-").replace("-", "_")

    def problem(self, value):
        """Why ``value`` is out of this option's bounds ("must be ..."), or None when it is fine."""
        if self.type not in (int, float) or value is None:
            return None
        if self.type is float and not math.isfinite(value):
            return f"must be a finite number, got {value}"
        low_ok = self.minimum is None or (value > self.minimum if self.exclusive_minimum else value >= self.minimum)
        high_ok = self.maximum is None or (value < self.maximum if self.exclusive_maximum else value <= self.maximum)
        if low_ok and high_ok:
            return None
        return f"{self.bounds_text()}, got {value}"

    def bounds_text(self):
        """The bounds in words: "must be greater than 0", "must be in (0, 1]", "must not be negative"."""
        if self.minimum is not None and self.maximum is not None:
            return (f"must be in {'(' if self.exclusive_minimum else '['}{self.minimum:g}, {self.maximum:g}"
                    f"{')' if self.exclusive_maximum else ']'}")
        if self.minimum is not None:
            if self.exclusive_minimum:
                return f"must be greater than {self.minimum:g}"
            return f"must be at least {self.minimum:g}" if self.minimum else "must not be negative"
        if self.maximum is not None:
            return f"must be {'less than' if self.exclusive_maximum else 'at most'} {self.maximum:g}"
        return "must be a number"

    def add_to(self, parser):
        """Add this option to an argparse parser (or argument group)."""
        if self.type is None:
            parser.add_argument(self.flag, *self.aliases, dest=self.dest, action="store_true", help=self.help)
        else:
            parser.add_argument(
                self.flag, *self.aliases, dest=self.dest, type=self.type, default=self.default, choices=self.choices, help=self.help
            )


@dataclass(frozen=True)
class Family:
    """A registered model family (see the module docstring for the fields)."""

    name: str
    module: str
    summary: str
    head: str
    input_multiple: int
    output_stride: int
    script: str
    model_options: tuple = ()
    train_options: tuple = ()
    defaults: dict = field(default_factory=dict)
    tiny: dict = field(default_factory=dict)
    init_from: tuple = ()
    backends: tuple = ()
    checks: tuple = ()

    def __post_init__(self):
        if self.head not in HEADS:
            raise ValueError(f"family {self.name}: head must be one of {HEADS}, got {self.head!r}")

    def implementation(self):
        """The family's module (imports Keras)."""
        return importlib.import_module(self.module)

    def build(self, **model_options):
        """The family's network for these builder keywords (see the module docstring)."""
        return self.implementation().build(**model_options)

    def compile_for_training(self, network, settings, train_images):
        return self.implementation().compile_for_training(network, settings, train_images)

    def initialize(self, network, settings):
        """Load pretrained weights where the family has them (a no-op otherwise)."""
        initialize = getattr(self.implementation(), "initialize", None)
        if initialize is not None:
            initialize(network, settings)

    def training_model(self, network, settings):
        """The model that training fits: the family's own training wrapper, else ``network``."""
        wrap = getattr(self.implementation(), "training_model", None)
        return network if wrap is None else wrap(network, settings)

    def split_frozen(self, network):
        """(frozen encoder, trainable part) where the family has a frozen encoder, else None."""
        split = getattr(self.implementation(), "split_frozen", None)
        return None if split is None else split(network)

    def initialize_from(self, network, source):
        """``--init``: ``source``'s weights (a trained network) into ``network`` (the family's hook, else all in order)."""
        hook = getattr(self.implementation(), "initialize_from", None)
        if hook is None:
            network.set_weights(source.get_weights())
        else:
            hook(network, source)

    def uses_class_labels(self, settings):
        """Whether training this family with ``settings`` needs the photos' class labels."""
        uses = getattr(self.implementation(), "uses_class_labels", None)
        return bool(uses is not None and uses(settings))

    def problems(self, settings):
        """Why ``settings`` (a dict or namespace of parsed options) cannot train this family: a list of
        one-line reasons (empty when they can), from each option's bounds and the family's ``checks``
        (pairs of a predicate on the settings dict and the reason when it is false)."""
        values = settings if isinstance(settings, dict) else vars(settings)
        found = []
        for option in self.model_options + self.train_options:
            problem = option.problem(values.get(option.dest, option.default))
            if problem:
                found.append(f"{option.flag} {problem}")
        found += [reason for holds, reason in self.checks if not holds(values)]
        return found

    def option_values(self, settings, options=None):
        """{dest: value} of this family's model options (or ``options``) taken from ``settings``."""
        options = self.model_options if options is None else options
        get = settings.get if isinstance(settings, dict) else lambda key, default: getattr(settings, key, default)
        return {option.dest: get(option.dest, option.default) for option in options}


_FAMILIES = {}


def register(family):
    """Add a family (a second registration of the same name replaces the first)."""
    _FAMILIES[family.name] = family
    return family


def get(name):
    """The family called ``name``; KeyError naming the known ones otherwise."""
    try:
        return _FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown model family {name!r} (known: {', '.join(_FAMILIES)})") from None


def names(script=None):
    """Registered family names, optionally only those served by one root ``script`` pair."""
    return [name for name, family in _FAMILIES.items() if script is None or family.script == script]


def families():
    return list(_FAMILIES.values())


# The family train_complex.py trains when no --arch is given: the design card's "complex" model, Zhang et
# al.'s classifier, which trains from scratch on any data. colorize_complex.py's default differs on purpose:
# the bundled gan preset needs a pretrained encoder and a two-stage recipe (scripts/train_pretrained.sh).
DEFAULT_COMPLEX_FAMILY = "zhang"
DEFAULT_COMPLEX_NOTE = ("Without --arch this trains zhang, the design card's classifier, from scratch. The bundled "
                        "default that colorize_complex.py uses is a gan model (--arch gan, on a pretrained encoder, "
                        "two stages: see scripts/train_pretrained.sh).")

_WIDTH_HELP = "channel-width multiplier"
_POSITIVE = {"minimum": 0, "exclusive_minimum": True}
_NOT_NEGATIVE = {"minimum": 0}
_LAMBDA = {"minimum": 0, "exclusive_minimum": True, "maximum": 1}

register(
    Family(
        name="simple",
        module="colorize.models.simple",
        summary="the CS 512 report's L2 regression CNN (strided 3x3 convolutions down, mirrored upsampling)",
        head=REGRESSION,
        input_multiple=8,
        output_stride=1,
        script="simple",
        model_options=(Option("--width", float, 1.0, _WIDTH_HELP + " (1.0: the report's 3.9 M parameters)", **_POSITIVE),),
        defaults={"size": 64, "lr": 1e-3},
        tiny={"width": 0.125},
    )
)

register(
    Family(
        name="zhang",
        module="colorize.models.zhang",
        summary="Zhang, Isola & Efros (ECCV 2016): a classifier over Q quantized ab colours, class-rebalanced "
        "soft cross-entropy, AdamW, annealed-mean decoding",
        head=BINS,
        input_multiple=8,
        output_stride=4,
        script="complex",
        model_options=(
            Option("--width", float, 0.25, _WIDTH_HELP, **_POSITIVE),
            Option("--middle-blocks", int, 2, "512-channel middle blocks kept (paper: 4; Northeastern report: 2)",
                   choices=tuple(range(5))),
        ),
        train_options=(
            Option("--lam", float, 0.5, "rebalancing mix with the uniform prior, in (0, 1] (Zhang et al.: 0.5)",
                   aliases=("--lambda",), **_LAMBDA),
            Option("--plain-ce", None, False, "plain (unweighted) soft cross-entropy, no rebalancing"),
            Option("--weight-decay", float, 1e-3, "AdamW decoupled weight decay", **_NOT_NEGATIVE),
        ),
        defaults={"size": 128, "lr": 3e-4},
        tiny={"width": 0.125, "middle_blocks": 1},
    )
)

# Pretrained encoders (colorize.models.backbones.SPECS; a test keeps the two lists equal).
BACKBONES = ("efficientnet_lite0", "efficientnet_lite2", "resnet50", "efficientnet_b0", "inception_resnet_v2")
_BACKBONE_HELP = ("pretrained ImageNet encoder: efficientnet_lite0/lite2 ship with the package (offline); "
                  "resnet50, efficientnet_b0, inception_resnet_v2 download their weights (Colab)")
_HEAD = Option("--head", str, REGRESSION, "regression: ab with the L2 loss; bins: Zhang's classifier over the Q ab "
               "bins with the rebalanced loss", choices=HEADS)
_BINS_TRAINING = (
    Option("--lam", float, 0.5, "bins head: rebalancing mix with the uniform prior, in (0, 1]", aliases=("--lambda",), **_LAMBDA),
    Option("--plain-ce", None, False, "bins head: plain (unweighted) soft cross-entropy"),
    Option("--weight-decay", float, 1e-3, "AdamW decoupled weight decay", **_NOT_NEGATIVE),
)

def _pretrained_encoder_family(name, summary, output_stride, backbones, width, width_help):
    """A family on a frozen pretrained encoder with a regression or bins head (unet, fusion)."""
    return Family(
        name=name,
        module=f"colorize.models.{name}",
        summary=summary,
        head=REGRESSION,
        input_multiple=32,
        output_stride=output_stride,
        script="complex",
        model_options=(
            Option("--backbone", str, "efficientnet_lite0", _BACKBONE_HELP, choices=backbones),
            _HEAD,
            Option("--width", float, width, _WIDTH_HELP + width_help, **_POSITIVE),
        ),
        train_options=_BINS_TRAINING,
        defaults={"size": 128, "lr": 1e-3},
        tiny={"backbone": "efficientnet_lite0", "head": REGRESSION, "width": 0.125},
    )


register(_pretrained_encoder_family(
    "unet", "a U-Net decoder on a frozen pretrained ImageNet encoder (skips at strides 4-32 plus its global "
    "embedding), regression or bins head at 1/4 resolution",
    output_stride=4, backbones=BACKBONES[:4], width=1.0, width_help=" of the decoder",
))

register(_pretrained_encoder_family(
    "fusion", "the Northeastern report's / Vlore paper's fusion encoder-decoder: a pretrained classifier's global "
    "embedding tiled over the bottleneck of an encoder-decoder on L",
    output_stride=2, backbones=BACKBONES, width=0.5, width_help=" of the encoder-decoder on L",
))

register(
    Family(
        name="iizuka",
        module="colorize.models.iizuka",
        summary="Iizuka, Simo-Serra & Ishikawa (SIGGRAPH 2016): shared low-level features, a mid-level path at the "
        "photo's resolution and a global path on a fixed-size resize fused at every position, sigmoid ab decoder, "
        "trained jointly with a classifier of the photo's folder (class)",
        head=REGRESSION,
        input_multiple=8,
        output_stride=2,
        script="complex",
        model_options=(
            Option("--width", float, 0.25, _WIDTH_HELP + " (1.0: the paper's channels)", **_POSITIVE),
            Option("--global-size", int, 128, "side of the fixed-size resize the global path sees, a multiple of "
                   "32 (paper: 224)", minimum=1),
        ),
        train_options=(
            Option("--class-weight", float, 1 / 300, "alpha: weight of the class cross-entropy beside the ab MSE "
                   "(paper: 1/300)", **_NOT_NEGATIVE),
            Option("--no-classification", None, False, "train on the ab MSE alone (no class head, no labels)"),
            Option("--weight-decay", float, 1e-3, "AdamW decoupled weight decay", **_NOT_NEGATIVE),
        ),
        defaults={"size": 64, "lr": 1e-3},
        tiny={"width": 0.0625, "global_size": 32},
    )
)

register(
    Family(
        name="gan",
        module="colorize.models.gan",
        summary="the GAN report's conditional GAN (pix2pix): a U-Net generator (the unet family's regression "
        "network on a frozen pretrained encoder, or the report's dilated U-Net) against a PatchGAN on (L, ab), "
        "adversarial + L1 loss",
        head=REGRESSION,
        input_multiple=32,
        output_stride=4,
        script="complex",
        model_options=(
            Option("--backbone", str, "efficientnet_lite0", _BACKBONE_HELP + "; none: the report's U-Net with "
                   "dilated middle convolutions, from scratch", choices=("none",) + BACKBONES[:4]),
            Option("--width", float, 1.0, _WIDTH_HELP + " of the generator's decoder", **_POSITIVE),
        ),
        train_options=(
            Option("--gan-weight", float, 1.0, "weight of the adversarial (BCE) term in the generator's loss; 0: L1 "
                   "alone", **_NOT_NEGATIVE),
            Option("--l1-weight", float, 100.0, "weight of the L1 term on ab / 110 (ab in about [-1, 1], as pix2pix's "
                   "images: its lambda 100 means the same)", **_NOT_NEGATIVE),
            Option("--pretrain-epochs", int, 0, "first epochs on L1 alone before the adversarial term (NoGAN)",
                   **_NOT_NEGATIVE),
            Option("--disc-filters", int, 64, "channels of the PatchGAN discriminator's first layer (pix2pix: 64)",
                   minimum=1),
            Option("--recognition-weight", float, 0.0, "weight of the recognition term: KL divergence between a frozen "
                   "EfficientNet-Lite0 classifier's classes on the true and on the colorized photo (at 224 px); 0: off",
                   **_NOT_NEGATIVE),
            Option("--neutral-weight", float, 0.0, "weight of the neutral term: chroma the generator adds where the "
                   "true colour is neutral (chroma < 6), over 110; 0: off", **_NOT_NEGATIVE),
        ),
        defaults={"size": 128, "lr": 2e-4},
        tiny={"backbone": "none", "width": 0.125},
        init_from=("unet",),
        backends=("tensorflow",),
        checks=((lambda values: values.get("gan_weight", 1.0) or values.get("l1_weight", 100.0),
                 "--gan-weight and --l1-weight cannot both be 0"),),
    )
)

register(
    Family(
        name="guided",
        module="colorize.models.guided",
        summary="user-guided colorization (Zhang et al., SIGGRAPH 2017): the GAN generator's U-Net with colour "
        "points and a reference photo's colour histogram injected at every decoder scale; trained with simulated "
        "points; without hints it colorizes exactly as the model it started from (--init)",
        head=REGRESSION,
        input_multiple=32,
        output_stride=4,
        script="complex",
        model_options=(
            Option("--backbone", str, "efficientnet_lite0", _BACKBONE_HELP, choices=BACKBONES[:4]),
            Option("--width", float, 0.5, _WIDTH_HELP + " of the decoder (0.5: the bundled gan.keras)", **_POSITIVE),
            Option("--train-base", None, False, "train the base U-Net too (default: frozen, only the hint branches "
                   "train, so without hints the model stays the one given to --init)"),
        ),
        defaults={"size": 128, "lr": 1e-3},
        # The base trains in the tiny config: untrained, its head is a zero kernel that would pass no gradient.
        tiny={"backbone": "efficientnet_lite0", "width": 0.125, "train_base": True},
        init_from=("gan", "unet"),
        backends=("tensorflow",),
    )
)
