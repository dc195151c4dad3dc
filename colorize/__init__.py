"""colorize: grayscale photo colorization in CIE Lab space with Keras 3.

The network sees the lightness L and predicts the colour channels ab; the
output always keeps the input's own L. Importing the package registers the
custom loss so a saved ``.keras`` file reloads with ``keras.saving.load_model``.
"""

__version__ = "0.1.0"

from colorize.runtime import silenced_stderr_fd as _silenced_stderr_fd

# Registering the custom Keras objects must happen on import so that
# keras.saving.load_model can rebuild a saved classifier after `import colorize`.
# The backend's C++ start-up banner is kept off the terminal while it loads.
with _silenced_stderr_fd():
    from colorize import losses as _losses  # noqa: F401
