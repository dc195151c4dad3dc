"""The resumable fit loop shared by every family.

The run's files are described in :mod:`colorize.train.runfiles`, its callbacks in
:mod:`colorize.train.callbacks`.
"""

import time
from pathlib import Path


from colorize.train.callbacks import EARLY_STOP_MIN_DELTA, EARLY_STOP_PATIENCE, EpochBackup, make_callbacks

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
        saved=saved, images=images_per_epoch(train_batches),
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


def images_per_epoch(batches):
    """How many images one pass over ``batches`` holds (None when it does not say)."""
    while batches is not None:
        if hasattr(batches, "images"):
            return len(batches.images)
        if hasattr(batches, "count"):
            return int(batches.count)
        batches = getattr(batches, "batches", None)  # a wrapper (EvenBatches)
    return None


def pipeline_images_per_second(batches, max_batches=8):
    """Images/second of the input pipeline alone (augmentation + Lab conversion), no model."""
    count = min(max_batches, len(batches))
    start = time.perf_counter()
    images = sum(len(batches[index][0]) for index in range(count))
    return images / max(time.perf_counter() - start, 1e-9)


