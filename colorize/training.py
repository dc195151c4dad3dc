"""The optimizer and the resumable fit loop shared by every family.

The run's files are described in :mod:`colorize.runfiles`, its callbacks in
:mod:`colorize.callbacks`.
"""

import time
from pathlib import Path

import keras

from colorize.callbacks import EARLY_STOP_MIN_DELTA, EARLY_STOP_PATIENCE, EpochBackup, make_callbacks

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


def fit(
    model, train_batches, val_batches, output, epochs, resume=False, verbose="auto", extra_callbacks=(),
    patience=EARLY_STOP_PATIENCE, min_delta=EARLY_STOP_MIN_DELTA, saved=None,
):
    """Train ``model`` (already compiled) with the resumable callbacks.

    ``saved``: what the best-model file holds (the Colorizer wrapping
    ``model``; None: ``model`` itself). Returns (history, images_per_second
    list). When the backup shows the run finished its epochs already,
    nothing is trained. Raises ColorizeError when the backup being resumed
    does not fit ``model``.
    """
    Path(output).parent.mkdir(parents=True, exist_ok=True)
    callbacks, throughput = make_callbacks(
        output, resume=resume, patience=patience, min_delta=min_delta, batch_size=train_batches.batch_size,
        saved=saved,
    )
    # Extra callbacks go before the epoch's commit, so that what they do is part of a finished epoch.
    commit = next(index for index, callback in enumerate(callbacks) if isinstance(callback, EpochBackup))
    callbacks[commit:commit] = list(extra_callbacks)
    # The backup restores into built weights (and a built optimizer).
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


