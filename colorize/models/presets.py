"""Presets: the trained colorizers shipped inside the package, by name (the one list of them).

Each preset is a model file of a registered family, with what it is for.
``--model NAME`` on every colorize command takes a preset's name as well as
a path. The files are package data (found with importlib.resources), so they
are there after ``pip install .`` as well as in a source checkout; the
default ones also have a compiled LiteRT copy (``NAME.lite``) beside them.
No Keras here: the command lines resolve these paths before importing it.
"""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Preset:
    """A bundled model: ``name`` (what --model accepts), its ``family``, file name and purpose."""

    name: str
    family: str
    file: str
    purpose: str

    @property
    def path(self):
        return _asset("models", self.file)


PRESETS = (
    Preset("gan", "gan", "gan.keras", "the default of colorize and colorize_complex.py: the GAN family's generator "
           "(a U-Net on frozen EfficientNet-Lite0 features, L1 then adversarial + 100 x L1)"),
    Preset("simple", "simple", "simple.keras", "colorize_simple.py's default: the CS 512 report's L2 regression CNN"),
    Preset("unet", "unet", "unet.keras", "a Zhang-style classifier head (bins, rebalanced loss) on the same kind of "
           "U-Net: more colour, less often right (the previous default)"),
    Preset("zhang", "zhang", "zhang.keras", "Zhang et al.'s classifier trained from scratch (the first default)"),
    Preset("guided", "guided", "guided.keras", "user-guided colorization (colour points, a reference photo): the "
           "default gan model with hint branches; without hints its colours are the default's; the default of "
           "colorize serve"),
)

# Preset used when a command line is given no --model.
DEFAULT_MODEL = "gan"
# Preset colorize serve uses when given no --model (it takes colour points and a reference photo).
SERVE_MODEL = "guided"
MODEL_NAMES = tuple(preset.name for preset in PRESETS)


def _asset(*parts):
    # Installed packages are plain folders (setuptools does not zip them), so the
    # resource is a real file path that Keras and OpenCV can open.
    return Path(str(resources.files("colorize").joinpath("assets", *parts)))


def get_preset(name):
    """The preset called ``name``; KeyError naming the presets otherwise."""
    for preset in PRESETS:
        if preset.name == name:
            return preset
    raise KeyError(f"no bundled model {name!r} (bundled: {', '.join(MODEL_NAMES)})")


def bundled_model(name=DEFAULT_MODEL):
    """Path of the bundled model ``name`` (one of MODEL_NAMES)."""
    return get_preset(name).path


def resolve(model):
    """A ``--model`` value -> the model file's Path: a preset's name (when no such file exists
    in the working folder) or a path."""
    if model is None:
        return bundled_model()
    if isinstance(model, str) and model in MODEL_NAMES and not Path(model).exists():
        return bundled_model(model)
    return Path(model)


def samples_folder():
    """Folder of the bundled sample photos."""
    return _asset("samples")
