"""Process-level set-up for the command-line entry points (never run on import).

TensorFlow's C++ runtime prints start-up banners straight to file descriptor 2
before any Python logging setting applies. A command-line tool promises one
line on stderr per error, so the entry points import Keras with fd 2 pointed
at /dev/null for the duration of the import only.
"""

import contextlib
import os
import sys
import threading


def _stderr_fd_usable():
    """True when file descriptor 2 is open (``python script.py 2>&-`` closes it)."""
    try:
        os.fstat(2)
    except OSError:
        return False
    return True


def _flush_stderr():
    """Flush Python's sys.stderr if there is one that can be flushed (None when fd 2 was closed)."""
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.flush()
    except (OSError, ValueError, AttributeError):  # closed, broken pipe, or an object without flush
        pass


@contextlib.contextmanager
def silenced_stderr_fd():
    """Temporarily send the process's file descriptor 2 to /dev/null.

    Process-wide: every thread's output to fd 2 is lost meanwhile. So it is
    only for the main thread, before worker threads start (importing the
    backend); called from any other thread, or when fd 2 is closed or cannot
    be duplicated, it does nothing. Never use it around work that runs while
    another thread may print (image decoding does not need it: see
    ``colorize.io``).
    """
    usable = sys.stderr is not None and _stderr_fd_usable()  # None: Python found fd 2 closed at start-up
    if threading.current_thread() is not threading.main_thread() or not usable:
        yield
        return
    _flush_stderr()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        os.close(saved)
        yield
        return
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        _flush_stderr()
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
    # TensorFlow's Python logger warns about "retracing" whenever photos of a new shape arrive,
    # which a folder of mixed photos always does; it is expected here, not a problem to report.
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return keras


def usable_cpus():
    """CPUs this process may run on (its affinity on Linux, else the machine's count), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
