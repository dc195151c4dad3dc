"""The models and sample photos shipped inside the package (found with importlib.resources).

    colorize/assets/models/simple.keras    the CS 512 L2 regression model (colorize_simple.py's default)
    colorize/assets/models/gan.keras       the GAN family's generator (a U-Net over frozen EfficientNet-Lite0
                                           features, L1 then adversarial + 100 x L1): colorize_complex.py's
                                           and colorize's default
    colorize/assets/models/unet.keras      a Zhang-style classifier head (bins, rebalanced loss) on the same kind
                                           of U-Net: more colour, less often right (the previous default)
    colorize/assets/models/zhang.keras     the earlier default: Zhang et al.'s classifier trained from scratch
    colorize/assets/samples/               public-domain / CC0 photos colorized by a run without arguments

They are package data, so they are there after ``pip install .`` as well as
in a source checkout. No Keras here: the command lines ask for these paths
before they import it.
"""

from importlib import resources
from pathlib import Path

# Bundled model used when a command line is given no --model.
DEFAULT_MODEL = "gan"
MODEL_NAMES = ("simple", "zhang", "unet", "gan")


def _asset(*parts):
    # Installed packages are plain folders (setuptools does not zip them), so the
    # resource is a real file path that Keras and OpenCV can open.
    return Path(str(resources.files("colorize").joinpath("assets", *parts)))


def bundled_model(name=DEFAULT_MODEL):
    """Path of the bundled model ``name`` (one of MODEL_NAMES)."""
    if name not in MODEL_NAMES:
        raise KeyError(f"no bundled model {name!r} (bundled: {', '.join(MODEL_NAMES)})")
    return _asset("models", f"{name}.keras")


def samples_folder():
    """Folder of the bundled sample photos."""
    return _asset("samples")
