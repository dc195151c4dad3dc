"""Colorizers compiled for the LiteRT runtime: the same network, ready in a fraction of a second.

Why: a command-line run that colorizes three photos spends most of its time
before the first pixel: importing TensorFlow (5-9 s on a 2-core CPU) and
rebuilding a ``.keras`` file's graph of ~300 layers (about 3 s), then tracing
the first calls. The LiteRT interpreter (``ai-edge-litert``, a ~20 MB wheel
with no TensorFlow inside) imports in 0.2 s and loads a compiled network in
milliseconds, so the command lines use a compiled copy of a model when there
is an up-to-date one (:func:`compiled_companion`).

A ``.lite`` file is a zip archive that describes itself like a ``.keras`` one:

    colorizer.json   format version, family, head, input multiple, output stride,
                     training size, default temperature (bins heads), the builder's
                     options and the SHA-256 of the .keras file it was compiled from
    network.tflite   a LiteRT flatbuffer with two signatures:
                       network: lightness (B, H, W, 1) float32 in [0, 100]
                                (and hints (B, H, W, 3), reference (B, Q + 1) when
                                the model takes them: ``hint_inputs`` in the json)
                                -> raw (B, H/s, W/s, C): ab in Lab units or logits
                       decode:  raw (B, h, w, C), temperature () float32
                                -> ab (B, h, w, 2) float32, Lab units

Both signatures are the Keras model's own graph (the decoder's annealed mean
included), converted by TensorFlow's converter, so nothing is implemented
twice; a compiled network's ab differs from the Keras one's by about 2e-5 to 1e-4 Lab
units (float32 kernels in another order). :class:`LiteColorizer` offers what
:mod:`colorize.predict.pipeline` uses of a :class:`~colorize.models.colorizer.Colorizer`
(``network(batch)``, ``network.predict_on_batch``, ``decode``, the
description), so the predict path is the same for both.

Compiling needs TensorFlow (``python -m colorize.cli.export MODEL.keras MODEL.lite``);
running needs only ``ai-edge-litert``.
"""

import json
import zipfile
from pathlib import Path

import numpy as np

from colorize.errors import ColorizeError, one_line
from colorize.files import file_digest
from colorize.runtime import usable_cpus

SUFFIX = ".lite"
FORMAT = "colorize-lite/1"
DESCRIPTION_NAME = "colorizer.json"
NETWORK_NAME = "network.tflite"
# Names of the two signatures inside network.tflite.
NETWORK_SIGNATURE = "network"
DECODE_SIGNATURE = "decode"
INSTALL_HINT = "pip install ai-edge-litert"


def runtime_available():
    """True when the LiteRT interpreter can be imported (it has no wheel for some platforms)."""
    try:
        _interpreter_class()
    except ImportError:
        return False
    return True


def _interpreter_class():
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter


def companion_path(keras_path):
    """Where the compiled copy of ``MODEL.keras`` lives: ``MODEL.lite`` beside it."""
    return Path(keras_path).with_suffix(SUFFIX)


def read_description(path):
    """The ``colorizer.json`` of a ``.lite`` file as a dict. Raises ColorizeError(path, reason)."""
    try:
        with zipfile.ZipFile(path) as archive:
            description = json.loads(archive.read(DESCRIPTION_NAME))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise ColorizeError(path, f"not a compiled colorizer ({one_line(error, 160)})") from None
    if not isinstance(description, dict) or description.get("format") != FORMAT:
        raise ColorizeError(path, f"not a compiled colorizer of format {FORMAT}")
    return description


def compiled_companion(keras_path):
    """``MODEL.lite`` beside ``MODEL.keras`` when it was compiled from exactly this file and LiteRT
    is installed; else None (then the .keras file is used, as it always can be).

    A companion compiled from an earlier version of the .keras file (another
    SHA-256) is never used: its colours would not be the model's.
    """
    companion = companion_path(keras_path)
    if not companion.is_file() or not Path(keras_path).is_file() or not runtime_available():
        return None
    try:
        description = read_description(companion)
    except ColorizeError:
        return None
    if description.get("source_sha256") != file_digest(keras_path):
        return None
    return companion


class LiteNetwork:
    """The ``network`` signature of a compiled colorizer, called like a Keras model on NumPy batches.

    The runner resizes its input tensor and re-plans memory whenever the batch
    shape changes (milliseconds for these networks); a folder of photos repeats
    a few shapes.
    """

    def __init__(self, interpreter, input_names=None):
        self._runner = interpreter.get_signature_runner(NETWORK_SIGNATURE)
        # The signature's inputs by name: L, then the hint inputs of a network that takes them.
        self._input_names = list(input_names or [next(iter(self._runner.get_input_details()))])

    def __call__(self, batch, training=False):
        """L (B, H, W, 1) float32 in [0, 100] (or the list [L, hints, reference] of a network taking
        hints) -> raw (B, H/s, W/s, C) float32 NumPy."""
        parts = batch if isinstance(batch, (list, tuple)) else [batch]
        if len(parts) != len(self._input_names):
            raise ValueError(f"the compiled network takes {len(self._input_names)} inputs, got {len(parts)}")
        outputs = self._runner(**{name: np.ascontiguousarray(part, np.float32)
                                  for name, part in zip(self._input_names, parts)})
        return next(iter(outputs.values())).copy()

    predict_on_batch = __call__


class LiteColorizer:
    """A compiled colorizer (``.lite`` file) with the description and calls of a Colorizer.

    Attributes mirror :class:`~colorize.models.colorizer.Colorizer`: family,
    head, input_multiple, output_stride, training_size, temperature, options;
    ``network`` runs the network, :meth:`decode` decodes raw output.
    """

    def __init__(self, network_bytes, description, threads=None):
        from colorize.runtime import silenced_stderr_fd

        # The runtime logs "Created TensorFlow Lite XNNPACK delegate" to fd 2; a CLI promises a quiet stderr.
        with silenced_stderr_fd():
            interpreter = _interpreter_class()(model_content=network_bytes, num_threads=threads or usable_cpus())
        # The inputs beside L of a network that takes hints (colorize.models.colorizer.HINT_INPUTS).
        self.hint_inputs = tuple(description.get("hint_inputs") or ())
        self.network = LiteNetwork(interpreter, ["lightness", *self.hint_inputs] if self.hint_inputs else None)
        self._decode = interpreter.get_signature_runner(DECODE_SIGNATURE)
        self._decode_inputs = set(self._decode.get_input_details())
        self.family = str(description["family"])
        self.head = description["head"]
        self.input_multiple = int(description["input_multiple"])
        self.output_stride = int(description["output_stride"])
        size = description.get("training_size")
        self.training_size = None if size is None else int(size)
        temperature = description.get("temperature")
        self.temperature = None if temperature is None else float(temperature)
        self.options = dict(description.get("options") or {})
        self.source_sha256 = description.get("source_sha256")
        self._network_bytes, self._description = network_bytes, description

    def replicas(self, count):
        """``count`` colorizers of this network that may run at the same time, each with its own
        interpreter and an equal share of the cores (at least one thread); ``count`` 1: this one."""
        if count <= 1:
            return [self]
        threads = max(1, usable_cpus() // count)
        return [type(self)(self._network_bytes, self._description, threads=threads) for _ in range(count)]

    @classmethod
    def load(cls, path, threads=None):
        """Read a ``.lite`` file. Raises ColorizeError(path, reason) when it is missing, not a
        compiled colorizer, or LiteRT is not installed."""
        path = Path(path)
        if not path.is_file():
            raise ColorizeError(path, "model file not found")
        description = read_description(path)
        if not runtime_available():
            raise ColorizeError(path, f"a compiled colorizer needs the LiteRT runtime ({INSTALL_HINT})")
        try:
            with zipfile.ZipFile(path) as archive:
                network_bytes = archive.read(NETWORK_NAME)
            return cls(network_bytes, description, threads=threads)
        except (OSError, zipfile.BadZipFile, KeyError, ValueError, RuntimeError) as error:
            raise ColorizeError(path, f"corrupt compiled colorizer ({one_line(error, 160)})") from None

    def decode(self, raw, temperature=None):
        """Raw output (B, h, w, C) -> ab (B, h, w, 2) float32 NumPy (annealed mean at ``temperature``,
        None: the model's own, for a bins head; the identity for regression). Also takes one (h, w, C)."""
        raw = np.asarray(raw, np.float32)
        single = raw.ndim == 3
        inputs = {"raw": np.ascontiguousarray(raw[None] if single else raw)}
        if "temperature" in self._decode_inputs:  # a regression decoder ignores it (and the converter drops it)
            value = self.temperature if temperature is None else temperature
            inputs["temperature"] = np.asarray(value if value is not None else 1.0, np.float32)
        ab = next(iter(self._decode(**inputs).values()))
        return ab[0].copy() if single else ab.copy()
