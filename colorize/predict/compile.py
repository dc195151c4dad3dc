"""Compiling a Keras colorizer into a ``.lite`` file for the LiteRT runtime (needs TensorFlow).

``python -m colorize.cli.export MODEL.keras MODEL.lite`` calls :func:`compile_colorizer`;
the file format is described in :mod:`colorize.predict.litert`, which runs it.
"""

import contextlib
import io
import json
import zipfile
from pathlib import Path

from colorize.files import write_bytes_atomic
from colorize.predict.litert import DECODE_SIGNATURE, DESCRIPTION_NAME, FORMAT, NETWORK_NAME, NETWORK_SIGNATURE


@contextlib.contextmanager
def _converter_friendly_upsampling():
    """Nearest-neighbour UpSampling2D as one resize op while a graph is traced for conversion.

    Keras implements it with two ``repeat`` ops (for XLA); with a dynamic
    height and width the converter loses the channel count after them and
    cannot lower the following convolutions. ``tf.image.resize(..., "nearest")``
    to exactly twice the size picks the same pixels (source index i // 2) and
    is a builtin LiteRT op. The change is undone on exit; a test compares the
    compiled network with the Keras one, so a Keras release that changes the
    private method shows up there.
    """
    import keras
    import tensorflow as tf

    layer_class = keras.layers.UpSampling2D
    original = getattr(layer_class, "_resize_images", None)
    if original is None:
        yield
        return

    def resize_images(self, x, height_factor, width_factor, data_format, interpolation="nearest"):
        if interpolation != "nearest" or data_format != "channels_last":
            return original(self, x, height_factor, width_factor, data_format, interpolation)
        shape = tf.shape(x)
        return tf.image.resize(x, tf.stack([shape[1] * height_factor, shape[2] * width_factor]), method="nearest")

    layer_class._resize_images = resize_images
    try:
        yield
    finally:
        layer_class._resize_images = original


def describe(colorizer, source_sha256=None):
    """The ``colorizer.json`` of a Keras :class:`~colorize.models.colorizer.Colorizer`."""
    return {
        "format": FORMAT,
        "family": colorizer.family,
        "head": colorizer.head,
        "input_multiple": colorizer.input_multiple,
        "output_stride": colorizer.output_stride,
        "training_size": colorizer.training_size,
        "temperature": colorizer.temperature,
        "options": colorizer.options,
        "hint_inputs": list(getattr(colorizer, "hint_inputs", ())),
        "source_sha256": source_sha256,
    }


def convert_network(colorizer):
    """The colorizer's network and decoder as LiteRT flatbuffer bytes (two signatures, see the module).

    Needs the TensorFlow backend. Takes about 40 s for the bundled default on a 2-core CPU.
    """
    import tempfile

    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(f"compiling for LiteRT needs the TensorFlow backend (KERAS_BACKEND is {keras.backend.backend()})")
    raw_channels = colorizer.network.output.shape[-1]
    archive = keras.export.ExportArchive()
    archive.track(colorizer)
    # L, then the hint inputs the model describes (their shapes from the network's own inputs).
    specs = [tf.TensorSpec((None, None, None, 1), tf.float32, name="lightness")] + [
        tf.TensorSpec((None,) + tuple(tensor.shape[1:]), tf.float32, name=name)
        for name, tensor in zip(getattr(colorizer, "hint_inputs", ()), colorizer.network.inputs[1:])
    ]
    with _converter_friendly_upsampling():
        archive.add_endpoint(
            NETWORK_SIGNATURE,
            lambda *inputs: {"raw": colorizer.network(inputs[0] if len(inputs) == 1 else list(inputs), training=False)},
            input_signature=specs,
        )
        archive.add_endpoint(
            DECODE_SIGNATURE,
            lambda raw, temperature: {"ab": colorizer.decode(raw, temperature)},
            input_signature=[
                tf.TensorSpec((None, None, None, raw_channels), tf.float32, name="raw"),
                tf.TensorSpec((), tf.float32, name="temperature"),
            ],
        )
        with tempfile.TemporaryDirectory() as folder:
            archive.write_out(folder, verbose=False)
            converter = tf.lite.TFLiteConverter.from_saved_model(
                folder, signature_keys=[NETWORK_SIGNATURE, DECODE_SIGNATURE]
            )
            return converter.convert()


def compile_colorizer(colorizer, target, source_sha256=None):
    """Write ``colorizer`` (a Keras Colorizer) as a ``.lite`` file at ``target``, atomically.

    ``source_sha256``: digest of the .keras file it was loaded from, which
    makes the result that file's :func:`compiled_companion`. Returns the Path.
    """
    network_bytes = convert_network(colorizer)
    buffer = io.BytesIO()
    # Stored, not deflated: float weights barely compress and loading stays a plain read.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(DESCRIPTION_NAME, json.dumps(describe(colorizer, source_sha256), indent=2))
        archive.writestr(NETWORK_NAME, network_bytes)
    write_bytes_atomic(target, buffer.getvalue())
    return Path(target)
