"""Which engine runs a saved colorizer, and loading it: decided once per run.

A colorizer is a ``.keras`` file (a :class:`~colorize.models.colorizer.Colorizer`,
run by Keras) or its compiled copy ``.lite`` (a
:class:`~colorize.predict.litert.LiteColorizer`, run by the LiteRT interpreter
without TensorFlow). :func:`open_colorizer` is the one entry point of the
command lines: it resolves a preset name or a path, picks the engine (hashing
the model file once, to check that a compiled copy was made from exactly it)
and loads what it picked. Keras is imported only when a Keras model is loaded.
"""

import warnings
import zipfile
from pathlib import Path

import numpy as np

from colorize.errors import ColorizeError
from colorize.predict import litert

# What may run a model: "auto" takes an up-to-date compiled copy when there is one.
ENGINES = ("auto", "keras", "litert")


class LegacyModelWarning(UserWarning):
    """A model file in the format before self-describing colorizers (converted on loading)."""


def model_engine(path, engine=None):
    """Which engine runs the model at ``path``, and from which file: ("keras" | "litert", Path).

    engine: None (the file's own: Keras for .keras, LiteRT for .lite),
    "keras" (the .keras file itself), "litert" (its compiled
    companion, see :func:`colorize.predict.litert.compiled_companion`, required) or
    "auto" (the companion when there is an up-to-date one and LiteRT is
    installed, else the .keras file). A ``.lite`` file runs on LiteRT.
    Raises ColorizeError(path, reason) when the engine asked for cannot run it.
    """
    path = Path(path)
    if engine is None:
        engine = "litert" if path.suffix == litert.SUFFIX else "keras"
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
    if path.suffix == litert.SUFFIX:
        if engine == "keras":
            raise ColorizeError(path, "a compiled colorizer runs on LiteRT only; give its .keras file for the Keras engine")
        return "litert", path
    if engine == "keras":
        return "keras", path
    companion = litert.compiled_companion(path) if path.suffix == ".keras" else None
    if companion is not None:
        return "litert", companion
    if engine == "litert":
        if not litert.runtime_available():
            raise ColorizeError(path, f"the LiteRT engine is not installed ({litert.INSTALL_HINT})")
        raise ColorizeError(path, f"no up-to-date compiled copy {litert.companion_path(path).name} beside it "
                                  f"(python -m colorize.cli.export {path} {litert.companion_path(path)} makes one)")
    return "keras", path


def load_colorizer(path, families=None, script_hint=None, engine=None):
    """Load a saved colorizer: a ``.keras`` file (a :class:`~colorize.models.colorizer.Colorizer`)
    or a compiled ``.lite`` one (a :class:`~colorize.predict.litert.LiteColorizer`, same calls).

    Args:
        path: the .keras or .lite file.
        families: registry names this caller accepts (None: any).
        script_hint: what to suggest when the family is not accepted
            (e.g. "use colorize_simple.py").
        engine: None (the file's own), "keras", "litert" or "auto" (:func:`model_engine`).

    Files of the earlier format (a bare network on normalised L, without a
    description) are converted on loading (:mod:`colorize.predict.old_format`) with a
    :class:`LegacyModelWarning`; ``python -m colorize.cli.export`` converts them
    for good. Raises ColorizeError(path, reason) for a missing, corrupt or
    unsuitable file (another family, or weights that are not finite).
    """
    path = Path(path)
    if not path.exists():
        raise ColorizeError(path, "model file not found")
    kind, source = model_engine(path, engine)
    model = litert.LiteColorizer.load(source) if kind == "litert" else _load_keras_colorizer(path)
    if families is not None and model.family not in families:
        hint = f" ({script_hint})" if script_hint else ""
        raise ColorizeError(path, f"this is a {model.family} model, not one of {', '.join(families)}{hint}")
    return model


def _load_keras_colorizer(path):
    """A .keras file -> Colorizer (old-format files converted), its weights checked finite."""
    import keras

    from colorize.models.colorizer import Colorizer

    if path.is_dir() or path.suffix != ".keras" or not zipfile.is_zipfile(path):
        raise ColorizeError(path, f"not a Keras model file (expected a .keras archive, or a compiled {litert.SUFFIX} one)")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for broken archives
        first_line = (str(error).strip().splitlines() or ["unreadable"])[0][:160]
        raise ColorizeError(path, f"corrupt or incompatible model file ({first_line})") from None
    if not isinstance(model, Colorizer):
        from colorize.predict.old_format import upgrade

        try:
            model = upgrade(model, path)
        except ValueError as error:
            raise ColorizeError(path, str(error)) from None
        warnings.warn(
            f"{path}: model in the old format, converted on loading "
            f"(python -m colorize.cli.export {path} NEW.keras converts it once)",
            LegacyModelWarning,
            stacklevel=3,
        )
    # A diverged training run's weights: every colour would come out NaN.
    if not all(np.isfinite(weight).all() for weight in model.get_weights()):
        raise ColorizeError(path, "the model's weights are not finite (NaN or inf: saved by a diverged training run?)")
    return model


def open_colorizer(model, engine="auto", families=None, script_hint=None, notes=None):
    """The colorizer a command asked for, loaded once: (colorizer, path it was loaded from).

    ``model``: a preset name (``colorize.models.presets``) or a path. The
    engine is resolved once (:func:`model_engine`, the only hash of the
    file) and the file it picked loaded (:func:`load_colorizer`). Notes about
    the file (an old format converted on loading) are appended to ``notes``
    (a list) instead of being warned. Raises ColorizeError(path, reason).
    """
    from colorize.models import presets

    path = presets.resolve(model)
    kind = None  # a missing file: load_colorizer reports it
    if path.exists():
        kind, path = model_engine(path, engine)
        if kind == "keras":
            from colorize.runtime import quiet_keras

            quiet_keras()  # only a Keras model needs TensorFlow (seconds to import): keep its log lines quiet
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LegacyModelWarning)
        colorizer = load_colorizer(path, families=families, script_hint=script_hint, engine=kind)
    if notes is not None:
        notes.extend(str(warning.message) for warning in caught if issubclass(warning.category, LegacyModelWarning))
    return colorizer, path
