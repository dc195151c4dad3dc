"""Optimizer, callbacks and the resumable fit loop shared by both train scripts.

A Colab runtime can vanish at any moment. Everything a run needs to continue
lives beside the output model:

    OUTPUT.keras             best model so far (by validation loss)
    OUTPUT_log.csv           one row per finished epoch (CSVLogger)
    OUTPUT_loss.png          the loss curves, redrawn after every epoch
    OUTPUT.keras.backup/     BackupAndRestore state (weights, optimizer, epoch)
    OUTPUT_settings.json     the command-line settings, reused by --resume

``resume=True`` restores the last finished epoch from the backup and rebuilds
the early-stopping and best-checkpoint state from the CSV log, so neither the
finished epochs nor the best model are lost or overwritten by a worse one.
"""

import csv
import os
import time
from pathlib import Path

import keras

# The reports' early-stopping rule: stop when validation loss has not
# improved by 0.001 for 7 epochs.
EARLY_STOP_MIN_DELTA = 1e-3
EARLY_STOP_PATIENCE = 7
# Parameters that weight decay must not shrink (biases and BatchNorm's affine
# and running statistics), matched as substrings of variable names.
NO_DECAY_NAMES = ("bias", "gamma", "beta", "moving_mean", "moving_variance")


def make_adamw(learning_rate=3e-4, weight_decay=1e-3, beta_1=0.9, beta_2=0.99):
    """AdamW with Zhang et al.'s betas and decay, biases and BatchNorm excluded from decay."""
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer


def run_files(output):
    """Paths of everything a training run keeps beside ``output`` (a .keras file)."""
    output = Path(output)
    stem = output.with_suffix("")
    return {
        "model": output,
        "log": Path(f"{stem}_log.csv"),
        "plot": Path(f"{stem}_loss.png"),
        "backup": Path(f"{output}.backup"),
        "settings": Path(f"{stem}_settings.json"),
    }


def read_log(path):
    """Rows of a CSVLogger file as dicts of floats, one per epoch ([] when missing).

    An epoch that was logged and then redone after a crash (before its backup
    was written) appears twice in the file; the later row wins.
    """
    path = Path(path)
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in csv.DictReader(handle)]
    by_epoch = {row.get("epoch"): row for row in rows}
    return sorted(by_epoch.values(), key=lambda row: row.get("epoch", 0))


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
    """Keep the model with the lowest validation loss as one ``.keras`` file, replaced atomically.

    Keras' ModelCheckpoint writes in place, so a runtime dropped mid-write
    would leave a corrupt best model; here the file is written beside the
    target and renamed over it only when complete.
    """

    def __init__(self, path, monitor="val_loss", best=None):
        super().__init__()
        self.path = Path(path)
        self.monitor = monitor
        self.best = best

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or (self.best is not None and not value < self.best):
            return
        self.best = float(value)
        temporary = self.path.with_name(f".{self.path.stem}.partial.keras")
        self.model.save(temporary)
        os.replace(temporary, self.path)


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


def make_callbacks(output, resume=False, patience=EARLY_STOP_PATIENCE, min_delta=EARLY_STOP_MIN_DELTA, batch_size=32):
    """The callbacks of a resumable run writing the files of :func:`run_files`."""
    files = run_files(output)
    best_so_far = min((row["val_loss"] for row in read_log(files["log"]) if "val_loss" in row), default=None)
    throughput = ThroughputLogger(batch_size)
    callbacks = [
        throughput,
        BestModelCheckpoint(files["model"], best=best_so_far if resume else None),
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


def check_output(output, resume):
    """Refuse to clobber a previous run; require something to resume from with ``resume``.

    A run that died before finishing its first epoch leaves only its settings
    (and an empty log): nothing worth keeping, so it may simply be started
    again. Raises FileExistsError / FileNotFoundError with a one-line message.
    """
    files = run_files(output)
    finished_epochs = bool(read_log(files["log"])) or files["model"].exists()
    if resume:
        if not files["backup"].exists():
            if finished_epochs:
                reason = "that run already finished"
            else:
                reason = "that run never finished an epoch: start it again without --resume"
            raise FileNotFoundError(f"{output}: nothing to resume ({reason}; no {files['backup'].name} folder)")
        return
    if finished_epochs or files["backup"].exists():
        existing = [str(p) for key, p in files.items() if p.exists()]
        raise FileExistsError(
            f"{output}: a previous run's files exist ({', '.join(existing)}); "
            "pass --resume to continue it or choose another --output"
        )


def fit(
    model, train_batches, val_batches, output, epochs, resume=False, verbose="auto", extra_callbacks=(),
    patience=EARLY_STOP_PATIENCE, min_delta=EARLY_STOP_MIN_DELTA,
):
    """Train ``model`` (already compiled) with the resumable callbacks.

    Returns (history, images_per_second list). When the backup shows the run
    finished its epochs already, nothing is trained.
    """
    callbacks, throughput = make_callbacks(
        output, resume=resume, patience=patience, min_delta=min_delta, batch_size=train_batches.batch_size
    )
    # Extra callbacks go before the backup so that the backup stays the very last step of an epoch.
    callbacks[-1:-1] = list(extra_callbacks)
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    # BackupAndRestore needs built weights (and a built optimizer) to restore into.
    if not model.built:
        model.build((None, None, None, 1))
    history = model.fit(
        train_batches, validation_data=val_batches, epochs=epochs, callbacks=callbacks, verbose=verbose
    )
    return history, throughput.images_per_second


def pipeline_images_per_second(batches, max_batches=8):
    """Images/second of the input pipeline alone (augmentation + Lab conversion), no model."""
    count = min(max_batches, len(batches))
    start = time.perf_counter()
    images = sum(len(batches[index][0]) for index in range(count))
    return images / max(time.perf_counter() - start, 1e-9)


def export_for_inference(source, target):
    """Copy a trained ``.keras`` model without its optimizer state (about 3x smaller).

    The loss (with its rebalancing weights) stays in the file, so the exported
    model still documents how it was trained and can be compiled again.
    """
    model = keras.saving.load_model(source)
    # A fresh, unbuilt optimizer of the same kind carries no state variables.
    optimizer = model.optimizer.__class__.from_config(model.optimizer.get_config())
    model.compile(optimizer=optimizer, loss=model.loss)
    model.save(target)
    return Path(target)
