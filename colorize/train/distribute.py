"""Data-parallel training over every visible device, with the backend's own machinery.

``--distribute`` builds, compiles and fits the model inside:

* TensorFlow: a ``tf.distribute.MirroredStrategy`` over all GPUs (all
  logical CPUs when there is no GPU). Each replica holds a copy of the
  weights, takes its share of every batch, and the gradients are summed
  across replicas (all-reduce) before one identical update; Keras divides
  each replica's loss by the number of replicas, so the loss is the mean
  over the global batch, as on one device.
* JAX: ``keras.distribution.DataParallel`` over ``keras.distribution.list_devices()``
  (weights replicated, each batch sharded along its first axis).

Nothing here splits batches or reduces gradients by hand. The caller makes
the batches ``per-device batch x replicas`` images (the global batch) and
wraps them in :class:`EvenBatches`: a batch that does not split evenly over
the devices (the last, smaller one of an epoch) breaks both backends (JAX
cannot shard it; Keras 3.15's MirroredStrategy path averages the first
batch's per-replica parts, which fails when they differ in size).
"""

import contextlib
import functools
import os

import keras
import numpy as np

from colorize.errors import ColorizeError

XLA_DEVICE_FLAG = "--xla_force_host_platform_device_count"


def _tensorflow_devices():
    """Names of the devices MirroredStrategy should use: the GPUs, else the (logical) CPUs."""
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return [device.name for device in devices]


@functools.lru_cache(maxsize=None)
def _mirrored_strategy(devices):
    """One MirroredStrategy per device set and process: a second one in the same process reuses the
    first one's collective-op instance keys, and its all-reduces then fail with shape mismatches."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(devices=list(devices))


@contextlib.contextmanager
def data_parallel(enabled=True):
    """Context for building, compiling and fitting a model; yields the number of replicas.

    Disabled: does nothing and yields 1. Raises ColorizeError on a backend
    without data-parallel support here (PyTorch: use TensorFlow or JAX).
    """
    if not enabled:
        yield 1
        return
    backend = keras.backend.backend()
    if backend == "tensorflow":
        strategy = _mirrored_strategy(tuple(_tensorflow_devices()))
        with strategy.scope():
            yield strategy.num_replicas_in_sync
    elif backend == "jax":
        from keras import distribution

        devices = distribution.list_devices()
        previous = distribution.distribution()
        distribution.set_distribution(distribution.DataParallel(devices=devices))
        try:
            yield len(devices)
        finally:
            distribution.set_distribution(previous)
    else:
        raise ColorizeError("--distribute", f"the {backend} backend is not supported (use tensorflow or jax)")


class EvenBatches(keras.utils.PyDataset):
    """``batches`` with every batch cut to a multiple of ``replicas`` photos (its first ones).

    Only an epoch's last batch is normally cut (the others hold per-device
    batch x replicas photos): at most replicas - 1 photos an epoch are left
    out, a different few each epoch when the order is shuffled. A batch
    with fewer photos than replicas (a tiny last batch, or a streamed batch
    that lost unreadable files) is repeated once per device instead. Epoch
    ends pass through, so shuffling and augmentation are those of ``batches``.
    """

    def __init__(self, batches, replicas):
        super().__init__(workers=batches.workers, use_multiprocessing=batches.use_multiprocessing,
                         max_queue_size=batches.max_queue_size)
        self.batches = batches
        self.replicas = int(replicas)
        self.batch_size = batches.batch_size

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        batch = self.batches[index]
        size = len(keras.tree.flatten(batch)[0])
        keep = size - size % self.replicas
        if keep == 0:
            return keras.tree.map_structure(lambda array: np.concatenate([array] * self.replicas), batch)
        return keras.tree.map_structure(lambda array: array[:keep], batch)

    def on_epoch_begin(self):
        self.batches.on_epoch_begin()

    def on_epoch_end(self):
        self.batches.on_epoch_end()


def device_summary(replicas):
    """One line naming the backend and its devices, for the run's log."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        names = _tensorflow_devices()
    elif backend == "jax":
        names = [str(device) for device in keras.distribution.list_devices()]
    else:
        names = []
    return f"data-parallel on {replicas} device(s) with {backend}: {', '.join(names)}"


def split_host_cpu(count):
    """Make the host CPU look like ``count`` devices (tests; a laptop rehearsal of a multi-GPU run).

    Must run before the backend initialises its devices: TensorFlow gets
    ``count`` logical CPU devices; JAX reads XLA_FLAGS when it is first
    imported, so the flag is added to the environment. Raises RuntimeError
    when TensorFlow's devices are already initialised.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    elif backend == "jax":
        flags = [flag for flag in os.environ.get("XLA_FLAGS", "").split() if not flag.startswith(XLA_DEVICE_FLAG)]
        os.environ["XLA_FLAGS"] = " ".join(flags + [f"{XLA_DEVICE_FLAG}={count}"])
    else:
        raise RuntimeError(f"cannot split the CPU into devices on the {backend} backend")
