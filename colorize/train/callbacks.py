"""Callbacks of a resumable training run (see :mod:`colorize.train.runfiles` for its files).

Every finished epoch is committed atomically by :class:`EpochBackup` (its
state, its log row, whether the run is done), so a run killed at any instant
loses no finished epoch. ``resume=True`` restores the last committed epoch and
rebuilds the early-stopping and best-checkpoint state from the CSV log (which
the backup has just rewritten to exactly the committed epochs), so neither the
finished epochs nor the best model are lost or overwritten by a worse one.
"""

import collections.abc
import contextlib
import csv
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import keras
import numpy as np

from colorize.train import runfiles
from colorize.errors import ColorizeError, one_line
from colorize.files import file_digest, fsync_file, save_model_atomic, write_bytes_atomic
from colorize.train.runfiles import read_log, run_files

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


class EpochBackup(keras.callbacks.Callback):
    """Commit every finished epoch atomically, and restore the last committed one on resume.

    Replaces ``keras.callbacks.BackupAndRestore``, which rewrites its weights
    file in place (a kill during the 0.1-0.2 s write left a truncated file
    that could not be resumed from) and left the log to a separate callback (a
    kill in between repeated the epoch in the log). The commit of epoch N
    (layout in :mod:`colorize.train.runfiles`):

    1. the whole state ``model.save_weights`` writes (every layer's weights and
       every optimizer the model holds, with its iteration count and moments)
       into a temporary file, fsync, rename to ``epoch-N.weights.h5``;
    2. the record ``epoch-N.json`` (epoch count, the weights' size and SHA-256,
       the log rows, whether the run is done) the same way: the commit point;
    3. the CSV log, rewritten from those rows; then the generation before the
       previous one is deleted.

    A kill before 2 redoes epoch N on resume, a kill after it does not; either
    way the log is rewritten from the record being resumed, so it holds each
    finished epoch exactly once. A model whose weights are no longer finite (a
    diverged run) is never committed: its epoch is logged and training stops.

    Args:
        folder: the run's backup folder (created at the first commit).
        log_path: the run's CSV log, written by this callback.
        resume: pick the newest intact generation now, and rewrite the log to
            its epochs at once, so callbacks constructed after this one read
            the repaired log; its weights are restored on train begin. A
            damaged generation is skipped with a one-line warning (none intact:
            the run starts again from its first epoch). False: start afresh,
            deleting a previous backup and log.
        warn: shows a one-line warning (default: "warning: ..." on stderr).
    """

    def __init__(self, folder, log_path, resume=False, warn=None):
        super().__init__()
        self.folder, self.log_path = Path(folder), Path(log_path)
        self.warn = warn or _warn
        self.record = None  # the generation restored on train begin
        self.fields, self.rows = [], []  # the log: column names, rows of cell strings
        if resume:
            self._choose()
        else:
            self._discard()
            with contextlib.suppress(FileNotFoundError):
                self.log_path.unlink()

    # ------------------------------------------------------------------ resuming
    def _choose(self):
        record, problems = runfiles.latest_backup(self.folder)
        if record is None:
            record, problem = self._keras_backup_record()
            problems += [problem] if problem else []
        for epochs, _ in runfiles.backup_records(self.folder):
            if record is None or epochs > record["epochs"]:
                self._delete_generation(epochs)  # damaged: never to be tried again
        if record is None:
            if self.folder.exists():  # else nothing was ever backed up: a plain start
                reason = "; ".join(problems) or "no epoch was committed"
                self.warn(f"{self.folder}: no usable backup ({reason}); starting the run again from its first epoch")
            self._discard()
            with contextlib.suppress(FileNotFoundError):
                self.log_path.unlink()
            return
        if problems:
            self.warn(f"{self.folder}: skipped {'; '.join(problems)}; resuming after epoch {record['epochs']} instead")
        self.record = record
        self.fields = list(record["log"]["fields"])
        self.rows = [list(row) for row in record["log"]["rows"][: record["epochs"]]]
        self._write_log(only_if_changed=True)

    def _keras_backup_record(self):
        """A record for the folder ``keras.callbacks.BackupAndRestore`` left (earlier versions), or a problem."""
        weights = self.folder / runfiles.KERAS_BACKUP_WEIGHTS
        if not weights.exists():
            return None, None
        try:
            metadata = json.loads((self.folder / runfiles.KERAS_BACKUP_METADATA).read_text())
            epochs = int(metadata["epoch"])
            _read_every_dataset(weights)
            fields, rows = _log_rows(self.log_path)
        except Exception as error:  # truncated HDF5, missing or broken metadata or log
            return None, f"the Keras backup {weights.name}: damaged ({one_line(error)})"
        rows = [row for row in rows if float(row[0]) < epochs]
        if epochs < 1 or len(rows) != epochs:
            return None, f"the Keras backup {weights.name}: its {epochs} epochs do not match the log"
        log = {"fields": fields, "rows": rows}
        record = {"format": runfiles.BACKUP_FORMAT, "epochs": epochs, "weights": weights.name, "finished": False}
        return {**record, "log": log}, None

    def on_train_begin(self, logs=None):
        if self.record is None:
            return
        model = self.model
        if model.optimizer is not None and not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # so its state has variables to load into
        path = self.folder / self.record["weights"]
        try:
            model.load_weights(path)
        except Exception as error:  # a model built differently from the one that wrote the backup
            raise ColorizeError(path, f"cannot restore this backup into the model ({one_line(error)})") from None
        epochs = self.record["epochs"]
        if self.record["finished"]:  # killed after its last commit: nothing left to train
            epochs = max(epochs, self.params.get("epochs", epochs))
        model._initial_epoch = epochs  # what BackupAndRestore set: fit() starts from it

    # ------------------------------------------------------------------ committing
    def on_epoch_end(self, epoch, logs=None):
        self._add_row(epoch, logs or {})
        if not weights_are_finite(self.model):
            # Diverged: resuming from here could only produce NaN. The epoch is
            # logged (the user sees where it happened) but not committed.
            self.model.stop_training = True
            self._write_log()
            return
        finished = bool(self.model.stop_training) or epoch + 1 >= self.params.get("epochs", epoch + 1)
        self._commit(epoch + 1, finished)

    def _add_row(self, epoch, logs):
        if not self.fields:
            self.fields = ["epoch"]
        new = [key for key in sorted(logs) if key not in self.fields]
        if new:
            self.fields += new
            self.rows = [row + [""] * len(new) for row in self.rows]
        values = {"epoch": str(epoch), **{key: _cell(value) for key, value in logs.items()}}
        self.rows = [row for row in self.rows if row[0] != str(epoch)]
        self.rows.append([values.get(field, "") for field in self.fields])

    def _commit(self, epochs, finished):
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epochs:06d}"
        temporary = self.folder / f".{name}.{os.getpid()}.partial.weights.h5"  # Keras wants .weights.h5
        try:
            self.model.save_weights(temporary)
            fsync_file(temporary)
            size, digest = temporary.stat().st_size, file_digest(temporary)
            os.replace(temporary, self.folder / f"{name}.weights.h5")
        except BaseException:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        record = {
            "format": runfiles.BACKUP_FORMAT,
            "epochs": epochs,
            "finished": finished,
            "weights": f"{name}.weights.h5",
            "bytes": size,
            "sha256": digest,
            "log": {"fields": self.fields, "rows": self.rows},
        }
        write_bytes_atomic(self.folder / f"{name}.json", json.dumps(record).encode())  # the commit point
        self._write_log()
        keep = {number for number, _ in runfiles.backup_records(self.folder)[:2]}
        for number in _generation_numbers(self.folder) - keep:
            self._delete_generation(number)

    def _write_log(self, only_if_changed=False):
        text = runfiles.log_text(self.fields, self.rows).encode()
        if only_if_changed:
            with contextlib.suppress(OSError):
                if self.log_path.read_bytes() == text:
                    return
        write_bytes_atomic(self.log_path, text)

    # ------------------------------------------------------------------ finishing
    def on_train_end(self, logs=None):
        self._discard()

    def _delete_generation(self, number):
        # The record first: a kill between the two leaves weights nobody refers to.
        for suffix in (".json", ".weights.h5"):
            with contextlib.suppress(FileNotFoundError):
                (self.folder / f"epoch-{number:06d}{suffix}").unlink()

    def _discard(self):
        """Delete the backup folder, records oldest first: a kill meanwhile leaves the newest record."""
        if not self.folder.exists():
            return
        for number, _ in reversed(runfiles.backup_records(self.folder)):
            self._delete_generation(number)
        with contextlib.suppress(FileNotFoundError):
            (self.folder / runfiles.KERAS_BACKUP_WEIGHTS).unlink()
        shutil.rmtree(self.folder, ignore_errors=True)


def _generation_numbers(folder):
    """Epoch numbers of every generation file in a backup folder, committed or not."""
    numbers = set()
    for name in os.listdir(folder):
        if name.startswith("epoch-") and name[6:12].isdigit():
            numbers.add(int(name[6:12]))
    return numbers


def _read_every_dataset(path):
    """Read every array of an HDF5 file (raises for a truncated or damaged one)."""
    import h5py

    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: item[()] if isinstance(item, h5py.Dataset) else None)


def _log_rows(path):
    """(fields, rows of cell strings) of a CSV log, one row per epoch (the later wins), by epoch."""
    with open(path, newline="") as handle:
        lines = list(csv.reader(handle))
    fields, by_epoch = lines[0], {}
    for row in lines[1:]:
        if len(row) == len(fields):
            by_epoch[float(row[0])] = row
    return fields, [by_epoch[epoch] for epoch in sorted(by_epoch)]


def _cell(value):
    """A log value as CSVLogger wrote it."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, str) or not isinstance(value, collections.abc.Iterable):
        return str(value)
    return f"[{', '.join(map(str, value))}]"


def _warn(message):
    """One warning line on stderr (nothing when stderr is closed or broken)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(f"warning: {message}", file=sys.stderr, flush=True)


class BestModelCheckpoint(keras.callbacks.Callback):
    """Keep the colorizer with the lowest validation loss as one ``.keras`` file, replaced atomically.

    ``saved`` is the model written: the :class:`~colorize.models.colorizer.Colorizer`
    wrapping the network being trained (they share the weights), so the file
    describes itself; None saves the trained model itself. Keras'
    ModelCheckpoint writes in place, so a runtime dropped mid-write would leave
    a corrupt best model; here the file is written beside the target and
    renamed over it only when complete. A model with a non-finite weight is
    never saved (a diverged run keeps its last good best model).

    It runs after the epoch's commit (:class:`EpochBackup`). ``resave``: the
    epoch just restored is the best one, and a kill between its commit and
    this save may have kept it from the file; the restored weights are exactly
    that epoch's, so they are saved (again) when training begins.
    """

    def __init__(self, path, monitor="val_loss", best=None, saved=None, resave=False):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = best
        self.saved = saved
        self.resave = resave

    def on_train_begin(self, logs=None):
        if self.resave:
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value) or (self.best is not None and not value < self.best):
            return
        if self._save():
            self.best = float(value)

    def _save(self):
        """Write the model atomically; False (nothing written) when a weight is not finite."""
        model = self.saved if self.saved is not None else self.model
        if not weights_are_finite(model):
            return False
        with optimizers_detached(model):
            save_model_atomic(model, self.path)
        return True


@contextlib.contextmanager
def optimizers_detached(model):
    """Save ``model`` without optimizer state: every compiled (sub)model is shown as uncompiled meanwhile.

    Keras saves the optimizer (and the compile settings) of every compiled
    model it meets, the trained network inside a Colorizer too: for AdamW two
    moments per weight, which tripled the file (46.6 MB for a 15 MB simple
    model), and a file that recompiles itself on loading. The best-model file
    is for colorizing and ``--init``; the resume backup keeps the optimizer.
    """
    held = [(part, part.optimizer, part.compiled) for part in [model, *model._flatten_layers(include_self=False)]
            if isinstance(part, keras.Model) and (getattr(part, "optimizer", None) is not None or part.compiled)]
    for part, _, _ in held:
        part.optimizer = None
        part.compiled = False
    try:
        yield model
    finally:
        for part, optimizer, compiled in held:
            part.optimizer = optimizer
            part.compiled = compiled


def weights_are_finite(model):
    """True when every weight of ``model`` is finite (no NaN or inf)."""
    return all(np.isfinite(keras.ops.convert_to_numpy(weight)).all() for weight in model.weights)


class LossCurvePlot(keras.callbacks.Callback):
    """Redraw the loss-curve PNG from the CSV log after every epoch (and on a resume's start: a kill
    after an epoch's commit may have kept its curve from the file)."""

    def __init__(self, log_path, png_path, redraw=False):
        super().__init__()
        self.log_path = log_path
        self.png_path = png_path
        self.redraw = redraw

    def on_train_begin(self, logs=None):
        if self.redraw:
            self.on_epoch_end(None)

    def on_epoch_end(self, epoch, logs=None):
        from colorize.plots import plot_learning_curves

        if read_log(self.log_path):
            plot_learning_curves(self.log_path, self.png_path)


class ThroughputLogger(keras.callbacks.Callback):
    """Record training images/second per epoch (shown in the log and returned).

    ``images``: the training images an epoch goes through (None: unknown), so
    that a last batch smaller than ``batch_size`` (or a data set smaller than
    one batch) counts the images it really holds.
    """

    def __init__(self, batch_size, images=None):
        super().__init__()
        self.batch_size = batch_size
        self.images = images
        self.images_per_second = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = self._last = time.perf_counter()
        self._batches = 0
        self._images = 0

    def on_train_batch_end(self, batch, logs=None):
        # The time of the last training batch: validation is not training speed.
        left = self.batch_size if self.images is None else self.images - self._batches * self.batch_size
        self._images += max(0, min(self.batch_size, left))
        self._batches += 1
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = self._last - self._start
        rate = self._images / max(seconds, 1e-9)
        self.images_per_second.append(rate)
        if logs is not None:
            logs["train_images_per_second"] = rate


def make_callbacks(
    output, resume=False, patience=EARLY_STOP_PATIENCE, min_delta=EARLY_STOP_MIN_DELTA, batch_size=32, saved=None,
    images=None,
):
    """The callbacks of a resumable run writing the files of :func:`colorize.train.runfiles.run_files`.

    ``saved``: the model written as the best model (see :class:`BestModelCheckpoint`);
    ``images``: training images per epoch (:class:`ThroughputLogger`).
    Constructing them prepares the run's files: temporary files of killed
    writes are deleted; with ``resume`` the log is rewritten to the epochs of
    the backup being resumed, without it a previous backup and log are deleted.
    """
    files = run_files(output)
    runfiles.remove_leftovers(output)
    # First: it repairs the log that the others replay.
    backup = EpochBackup(files["backup"], files["log"], resume=resume)
    rows = read_log(files["log"])
    finite = [row for row in rows if math.isfinite(row.get("val_loss", math.nan))]
    best_row = min(finite, key=lambda row: row["val_loss"], default=None)  # the first of equal ones, as saved
    throughput = ThroughputLogger(batch_size, images)
    callbacks = [
        throughput,
        ResumableEarlyStopping(
            files["log"], monitor="val_loss", min_delta=min_delta, patience=patience, verbose=1
        ),
        keras.callbacks.TerminateOnNaN(),
        # The commit: after every callback that adds to the epoch's logs or decides to stop.
        backup,
        # Derived from the committed epoch, and redone on resume when a kill came first.
        BestModelCheckpoint(
            files["model"], best=best_row["val_loss"] if best_row else None, saved=saved,
            resave=backup.record is not None and best_row is not None and best_row is rows[-1],
        ),
        LossCurvePlot(files["log"], files["plot"], redraw=backup.record is not None),
    ]
    return callbacks, throughput
