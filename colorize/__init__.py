"""colorize: grayscale photo colorization in CIE Lab space with Keras 3.

The network sees the lightness L and predicts the colour channels ab; the
output always keeps the input's own L. Importing the package imports no
Keras or TensorFlow (so every ``--help`` is instant); the library's entry
points are loaded on first use:

    from colorize import load_colorizer, colorize_image
    from colorize.io import read_image, write_png

Saved models are :class:`colorize.models.colorizer.Colorizer` files;
``keras.saving.load_model`` rebuilds them once ``colorize.models.colorizer``
is imported (``load_colorizer`` does it for you).
"""

__version__ = "0.2.0"

# name -> module of the lazily imported public API (PEP 562).
_LAZY = {
    "load_colorizer": "colorize.predict.engine",
    "colorize_image": "colorize.predict.pipeline",
    "predict_ab": "colorize.predict.pipeline",
    "Colorizer": "colorize.models.colorizer",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'colorize' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
