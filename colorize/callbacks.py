"""Callbacks of a resumable training run (see :mod:`colorize.runfiles` for its files).

``resume=True`` restores the last finished epoch from the backup and rebuilds
the early-stopping and best-checkpoint state from the CSV log, so neither the
finished epochs nor the best model are lost or overwritten by a worse one.
"""

import math
import os
import time
from pathlib import Path

import keras
import numpy as np

from colorize.runfiles import read_log, run_files

# The reports' early-stopping rule: stop when validation loss has not
# improved by 0.001 for 7 epochs.
EARLY_STOP_MIN_DELTA = 1e-3
EARLY_STOP_PATIENCE = 7


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping whose best value and patience counter survive a resume.

    On train begin it replays the validation losses already in the CSV log,
    so a run interrupted after 5 epochs without improvement stops after 2
    more, exactly as an uninterrupted run would.
    """

    def __init__(self, log_path, **kwargs):
        super().__init__(**kwargs)
        self.log_path = log_path

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.monitor_op is None:
            self._set_monitor_op()
        for row in read_log(self.log_path):
            value = row.get(self.monitor)
            if value is None:
                continue
            if self.best is None or bool(self._is_improvement(value, self.best)):
                self.best = value
                self.wait = 0
            else:
                self.wait += 1


class BestModelCheckpoint(keras.callbacks.Callback):
    """Keep the colorizer with the lowest validation loss as one ``.keras`` file, replaced atomically.

    ``saved`` is the model written: the :class:`~colorize.models.colorizer.Colorizer`
    wrapping the network being trained (they share the weights), so the file
    describes itself; None saves the trained model itself. Keras'
    ModelCheckpoint writes in place, so a runtime dropped mid-write would leave
    a corrupt best model; here the file is written beside the target and
    renamed over it only when complete. A model with a non-finite weight is
    never saved (a diverged run keeps its last good best model).
    """

    def __init__(self, path, monitor="val_loss", best=None, saved=None):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = best
        self.saved = saved

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value) or (self.best is not None and not value < self.best):
            return
        model = self.saved if self.saved is not None else self.model
        if not weights_are_finite(model):
            return
        self.best = float(value)
        temporary = self.path.with_name(f".{self.path.stem}.partial.keras")
        model.save(temporary)
        _fsync(temporary)
        os.replace(temporary, self.path)


def weights_are_finite(model):
    """True when every weight of ``model`` is finite (no NaN or inf)."""
    return all(np.isfinite(keras.ops.convert_to_numpy(weight)).all() for weight in model.weights)


def _fsync(path):
    """Flush a written file to disk so a rename after it never exposes a partial file after a crash."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


class LossCurvePlot(keras.callbacks.Callback):
    """Redraw the loss-curve PNG from the CSV log after every epoch."""

    def __init__(self, log_path, png_path):
        super().__init__()
        self.log_path = log_path
        self.png_path = png_path

    def on_epoch_end(self, epoch, logs=None):
        from colorize.plots import plot_learning_curves

        if read_log(self.log_path):
            plot_learning_curves(self.log_path, self.png_path)


class ThroughputLogger(keras.callbacks.Callback):
    """Record training images/second per epoch (shown in the log and returned)."""

    def __init__(self, batch_size):
        super().__init__()
        self.batch_size = batch_size
        self.images_per_second = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last = time.perf_counter()
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        # The time of the last training batch: validation is not training speed.
        self._batches += 1
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = self._last - self._start
        rate = self._batches * self.batch_size / max(seconds, 1e-9)
        self.images_per_second.append(rate)
        if logs is not None:
            logs["train_images_per_second"] = rate


def make_callbacks(
    output, resume=False, patience=EARLY_STOP_PATIENCE, min_delta=EARLY_STOP_MIN_DELTA, batch_size=32, saved=None
):
    """The callbacks of a resumable run writing the files of :func:`colorize.runfiles.run_files`.

    ``saved``: the model written as the best model (see :class:`BestModelCheckpoint`).
    """
    files = run_files(output)
    best_so_far = min((row["val_loss"] for row in read_log(files["log"]) if "val_loss" in row), default=None)
    throughput = ThroughputLogger(batch_size)
    callbacks = [
        throughput,
        BestModelCheckpoint(files["model"], best=best_so_far if resume else None, saved=saved),
        ResumableEarlyStopping(
            files["log"], monitor="val_loss", min_delta=min_delta, patience=patience, verbose=1
        ),
        keras.callbacks.CSVLogger(str(files["log"]), append=resume),
        LossCurvePlot(files["log"], files["plot"]),
        keras.callbacks.TerminateOnNaN(),
        # Last: an epoch counts as finished for --resume only once its best model,
        # log row and plot are written, so a crash in between never loses an epoch.
        keras.callbacks.BackupAndRestore(str(files["backup"])),
    ]
    return callbacks, throughput


