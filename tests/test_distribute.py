"""--distribute on 2 virtual CPU devices: the backend's data-parallel machinery, one subprocess per backend.

The devices must be configured before the backend initialises, so each
check runs in a fresh interpreter (TensorFlow: logical CPU devices; JAX:
XLA_FLAGS), which prints one JSON line of results.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO, save_rgb, synthetic_photo

# Runs in the child: the same SGD step on 1 device and on 2 must give the same weights (the all-reduced
# gradient of two half batches, each loss divided by the replica count, is the gradient of the whole batch;
# summed instead of averaged it would be twice as large), then a real --distribute run, interrupted after
# one epoch and resumed.
CHILD = textwrap.dedent(
    """
    import json, sys
    from colorize.train import distribute
    distribute.split_host_cpu(2)
    import keras
    import numpy as np
    from colorize.train import fit as training
    from colorize.models.losses import AbMeanSquaredError
    from colorize.cli.train import main

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 100, (8, 8, 8, 1)).astype("float32")
    y = rng.uniform(-60, 60, (8, 8, 8, 2)).astype("float32")

    def step():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((8, 8, 1))
        model = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs / 100.0))
        model.compile(optimizer=keras.optimizers.SGD(100.0), loss=AbMeanSquaredError())
        before = [np.asarray(w) for w in model.get_weights()]
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        return before, [np.asarray(w) for w in model.get_weights()]

    start, single = step()
    with distribute.data_parallel(True) as replicas:
        _, mirrored = step()
    moved = max(float(np.abs(a - b).max()) for a, b in zip(start, single))
    gap = max(float(np.abs(a - b).max()) for a, b in zip(single, mirrored))
    gan = None
    if keras.backend.backend() == "tensorflow":  # the GAN's own train/test steps (TensorFlow only)
        from colorize.models.gan import GANTrainer, make_adam
        from colorize.models.patchgan import build_discriminator
        def gan_logs():
            keras.utils.set_random_seed(0)
            inputs = keras.Input((8, 8, 1))
            generator = keras.Model(inputs, keras.layers.Conv2D(2, 3, padding="same")(inputs / 100.0))
            trainer = GANTrainer(generator, build_discriminator(8), output_stride=1)
            trainer.compile(make_adam(1e-4), make_adam(1e-4))
            history = trainer.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0).history
            return {**{k: v[-1] for k, v in history.items()},
                    "val": trainer.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)["loss"]}
        gan = {"single": gan_logs()}
        with distribute.data_parallel(True):
            gan["mirrored"] = gan_logs()

    class Disconnect(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    real_fit = training.fit
    training.fit = lambda *a, **k: real_fit(*a, **k, extra_callbacks=[Disconnect()], verbose=0)
    args = sys.argv[1:]
    try:
        main(args + ["--epochs", "2"])
    except KeyboardInterrupt:
        pass
    training.fit = lambda *a, **k: real_fit(*a, **k, verbose=0)
    output = args[args.index("--output") + 1]
    status = main(["simple", "--output", output, "--resume", "--distribute"])
    print(json.dumps({"replicas": replicas, "gap": gap, "moved": moved, "status": status, "gan": gan}))
    """
)


def _run_child(backend, tmp_path, extra_env=None):
    folder = tmp_path / "photos"
    for index in range(12):
        save_rgb(folder / f"c{index % 2}" / f"{index}.png", synthetic_photo(40, 40, seed=index))
    output = tmp_path / "run" / "s.keras"
    argv = ["simple", "--data", str(folder), "--size", "16", "--batch-size", "2", "--width", "0.125",
            "--val-fraction", "0.25", "--output", str(output), "--distribute"]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO), **(extra_env or {}))
    result = subprocess.run([sys.executable, "-c", CHILD, *argv], capture_output=True, text=True, env=env,
                            timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), result.stdout, output


def _check(found, stdout, output):
    assert found["replicas"] == 2
    assert found["moved"] > 1e-3  # the step changes the weights, so equal weights mean equal steps
    assert found["gap"] < 1e-3 * found["moved"], found  # summed instead of averaged: gap == moved
    assert found["status"] == 0
    if found["gan"]:  # logged losses are the global batch's on 2 devices too (not each replica's half share)
        single, mirrored = found["gan"]["single"], found["gan"]["mirrored"]
        assert mirrored["loss"] == pytest.approx(single["loss"], rel=1e-4), found["gan"]  # no BN: identical
        assert mirrored["val"] == pytest.approx(single["val"], rel=1e-4), found["gan"]
        # The discriminator's batch statistics are per replica, so its losses only come close.
        assert mirrored["d_loss"] == pytest.approx(single["d_loss"], rel=0.25), found["gan"]
    assert stdout.count("data-parallel on 2 device(s)") == 2 and "global batch 2 x 2 = 4 images" in stdout
    from colorize.train import runfiles

    assert [int(row["epoch"]) for row in runfiles.read_log(runfiles.run_files(output)["log"])] == [0, 1]
    assert output.exists()


@pytest.mark.slow
def test_tensorflow_mirrored_strategy_on_two_cpu_devices(tmp_path):
    pytest.importorskip("tensorflow")
    _check(*_run_child("tensorflow", tmp_path))


@pytest.mark.slow
def test_jax_data_parallel_on_two_cpu_devices(tmp_path):
    if importlib.util.find_spec("jax") is None:
        pytest.skip("JAX is not installed")
    _check(*_run_child("jax", tmp_path, {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}))


def test_distribute_flag_is_documented_in_help(capsys):
    from colorize.cli.train import train_command

    with pytest.raises(SystemExit):
        train_command(None, ["simple", "--help"])
    out = capsys.readouterr().out
    assert "--distribute" in out and "--cache" in out and "per device" in out
