"""The self-describing saved colorizer and the small layers every family shares.

A :class:`Colorizer` is what a ``.keras`` file holds:

    L (B, H, W, 1) in [0, 100] -> network -> raw -> decoder -> ab (B, H/s, W/s, 2), Lab units

* ``network`` is the family's trainable model (normalisation of L inside
  it); ``raw`` is ab for a REGRESSION head, logits over the Q bins for a
  BINS head.
* ``decoder`` turns raw output into ab: the identity for regression, the
  annealed mean over the bin table (saved in the file) at a settable
  temperature for bins (richzhang's colorizers keep the bin centres inside
  the model the same way).
* The file also records the family, head, input multiple, output stride,
  the builder's options and the training size, so nothing about a model is
  guessed when it is loaded. ``keras.saving.load_model`` rebuilds it once
  this module is imported (``import colorize.models.colorizer``, or use
  :func:`colorize.predict.pipeline.load_colorizer`).
"""

import keras
from keras import layers, ops

from colorize.color import L_CENT, L_NORM
from colorize.models import BINS, REGRESSION
# Every custom layer and loss a saved colorizer may contain must be registered before
# keras.saving.load_model reads one: importing them here makes "import this module" the one requirement.
from colorize.models import backbones as _backbones  # noqa: F401
from colorize.models import blocks as _blocks  # noqa: F401
from colorize.models import losses as _losses  # noqa: F401  (a trained part saved compiled)
from colorize.models.heads import AnnealedMeanDecoder, RegressionDecoder, check_temperature
from colorize.quantize import DEFAULT_TEMPERATURE


# Names of the inputs a network may take beside L (the ``guided`` family's): its ``hint_inputs``.
HINTS_INPUT = "hints"  # (B, H, W, 3): a, b (Lab units) of colour points and their mask
REFERENCE_INPUT = "reference"  # (B, Q + 1): a reference photo's ab histogram over the Q bins, and a flag
HINT_INPUTS = (HINTS_INPUT, REFERENCE_INPUT)


def lightness_input(name="lightness"):
    """The network input and its normalised view.

    Returns (inputs, x): inputs is L (B, H, W, 1) in [0, 100]; x is
    (L - L_CENT) / L_NORM in [-0.5, 0.5], what the convolutions see.
    """
    inputs = keras.Input(shape=(None, None, 1), name=name)
    normalised = layers.Rescaling(1.0 / L_NORM, offset=-L_CENT / L_NORM, name="normalize_l")(inputs)
    return inputs, normalised


@keras.saving.register_keras_serializable(package="colorize")
class Colorizer(keras.Model):
    """A saved colorizer: L in [0, 100] -> ab in Lab units, describing itself.

    A network may take hints beside L (the ``guided`` family): its inputs are
    then [L, hints, reference] (:data:`HINT_INPUTS`), and ``hint_inputs``
    names them (empty for every other family); the predict path passes zero
    hints when none are given.

    Args:
        network: the family's model, L (B, H, W, 1) in [0, 100] -> raw output
            (ab, or logits over the bins) at 1/``output_stride`` resolution.
        family: registry name of the family that built ``network``.
        head: REGRESSION or BINS.
        input_multiple: H and W of the input must be multiples of it.
        output_stride: input size / output size.
        bins: (Q, 2) bin centres (BINS head only; the frozen table by default).
        temperature: the BINS head's default annealed-mean temperature.
        training_size: the ``--size`` the model was trained at (None:
            unknown); the default working size for colorizing.
        options: the builder's keyword arguments (dict), for the record and
            for rebuilding the network (``--init``, export).

    Calling it returns ab (B, H/s, W/s, 2). ``network`` gives the raw output
    and ``decode(raw, temperature)`` decodes it, which lets a caller average
    two raw outputs (mirror test-time augmentation averages logits) first.
    """

    def __init__(
        self,
        network,
        family,
        head,
        input_multiple,
        output_stride,
        bins=None,
        temperature=DEFAULT_TEMPERATURE,
        training_size=None,
        options=None,
        **kwargs,
    ):
        if head == BINS:
            if bins is None:
                from colorize.quantize import ab_bins

                bins = ab_bins()
            decoder = AnnealedMeanDecoder(bins, temperature, name="decoder")
        elif head == REGRESSION:
            decoder = RegressionDecoder(name="decoder")
        else:
            raise ValueError(f"unknown head {head!r}")
        # L, then whatever else the network takes (hints), under the network's own input names.
        inputs = [keras.Input(shape=tuple(t.shape[1:]), name=name) for t, name in zip(network.inputs, _input_names(network))]
        super().__init__(inputs=inputs[0] if len(inputs) == 1 else inputs,
                         outputs=decoder(network(inputs[0] if len(inputs) == 1 else inputs)), **kwargs)
        self.hint_inputs = tuple(_input_names(network)[1:])
        self.network = network
        self.decoder = decoder
        self.family = str(family)
        self.head = head
        self.input_multiple = int(input_multiple)
        self.output_stride = int(output_stride)
        self.training_size = None if training_size is None else int(training_size)
        self.options = dict(options or {})

    @property
    def takes_hints(self):
        """True when the network takes colour hints (:data:`HINT_INPUTS`) beside L."""
        return bool(self.hint_inputs)

    @property
    def bins(self):
        """(Q, 2) float32 bin table of a BINS head, None for regression."""
        return getattr(self.decoder, "bins", None)

    @property
    def temperature(self):
        """The default annealed-mean temperature (None for a regression head)."""
        variable = getattr(self.decoder, "temperature_variable", None)
        # Rounded as in get_config: the float32 variable holds 0.699999988 for a stored 0.7.
        return None if variable is None else round(float(ops.convert_to_numpy(variable)), 6)

    @temperature.setter
    def temperature(self, value):
        check_temperature(value)
        self.decoder.temperature_variable.assign(float(value))

    def decode(self, raw, temperature=None):
        """Raw network output (..., C) -> ab (..., 2) float32 tensor, Lab units."""
        return self.decoder.decode(raw, temperature)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "network": keras.saving.serialize_keras_object(self.network),
            "family": self.family,
            "head": self.head,
            "input_multiple": self.input_multiple,
            "output_stride": self.output_stride,
            "bins": None if self.bins is None else self.bins.tolist(),
            "temperature": DEFAULT_TEMPERATURE if self.temperature is None else round(self.temperature, 6),
            "training_size": self.training_size,
            "options": self.options,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["network"] = keras.saving.deserialize_keras_object(config["network"])
        return cls(**config)


def _input_names(network):
    """The names of a network's inputs, in order (the first is L)."""
    names = [getattr(t, "name", "") or "" for t in network.inputs]
    unknown = [name for name in names[1:] if name not in HINT_INPUTS]
    if unknown:
        raise ValueError(f"a colorizer network takes L and optionally {', '.join(HINT_INPUTS)}, not {unknown}")
    return names


def make_colorizer(family, network, training_size=None, options=None, name=None):
    """Wrap a family's trained ``network`` into a :class:`Colorizer` with the family's metadata.

    ``family`` is a registry entry (``colorize.models.get(name)``). A family
    whose head is a builder option (``head=...``) records the one built.
    """
    return Colorizer(
        network,
        family=family.name,
        head=(options or {}).get("head", family.head),
        input_multiple=family.input_multiple,
        output_stride=family.output_stride,
        training_size=training_size,
        options=options,
        name=name or f"colorizer_{family.name}",
    )
