"""Process-level set-up for the command-line entry points (never run on import).

TensorFlow's C++ runtime prints start-up banners straight to file descriptor 2
before any Python logging setting applies. A command-line tool promises one
line on stderr per error, so the entry points import Keras with fd 2 pointed
at /dev/null for the duration of the import only.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def silenced_stderr_fd():
    """Temporarily send the process's file descriptor 2 to /dev/null."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_keras():
    """Import Keras (and its backend) without the backend's start-up noise."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with silenced_stderr_fd():
        import keras

        # The first tensor operation initialises the TF runtime, which logs too.
        keras.ops.convert_to_numpy(keras.ops.zeros((1,)))
    return keras
