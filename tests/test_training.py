"""Resumable training: an interrupted run continues without losing epochs or the best model."""

import keras
import numpy as np
import pytest

import colorize  # noqa: F401
from colorize.train import callbacks as run_callbacks
from colorize.train import runfiles, fit as training
from colorize.models.losses import AbMeanSquaredError
from colorize.models.optimizers import make_adamw
from colorize.train.data import LabBatches
from colorize.models.simple import build_simple_model
from conftest import synthetic_photo


class RuntimeDropped(Exception):
    """Stands in for Colab killing the runtime."""


class DropRuntime(keras.callbacks.Callback):
    """The runtime disappears while epoch ``epoch`` trains (``at="begin"``) or at its end,
    after its log row but before its backup (``at="end"``)."""

    def __init__(self, epoch, at):
        super().__init__()
        self.epoch, self.at = epoch, at

    def on_epoch_begin(self, epoch, logs=None):
        if self.at == "begin" and epoch == self.epoch:
            raise RuntimeDropped()

    def on_epoch_end(self, epoch, logs=None):
        if self.at == "end" and epoch == self.epoch:
            raise RuntimeDropped()


def _setup(seed=0):
    keras.utils.set_random_seed(seed)
    images = np.stack([synthetic_photo(16, 16, seed=i) for i in range(8)])
    model = build_simple_model(width=0.125)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=AbMeanSquaredError())
    return model, LabBatches(images, 4, shuffle=True), LabBatches(images[:4], 4)


@pytest.mark.slow
def test_resume_continues_after_a_dropped_runtime(tmp_path):
    output = tmp_path / "run" / "model.keras"
    model, train, val = _setup()
    with pytest.raises(RuntimeDropped):
        training.fit(model, train, val, output, epochs=5, verbose=0, extra_callbacks=[DropRuntime(3, at="begin")])
    files = runfiles.run_files(output)
    assert files["backup"].exists() and len(runfiles.read_log(files["log"])) == 3

    with pytest.raises(FileExistsError):
        runfiles.check_output(output, resume=False)
    runfiles.check_output(output, resume=True)
    model, train, val = _setup(seed=1)  # a fresh process: new weights, restored from the backup
    fresh_loss = model.evaluate(val, verbose=0)
    history, rates = training.fit(model, train, val, output, epochs=5, resume=True, verbose=0)
    log = runfiles.read_log(files["log"])
    assert [int(row["epoch"]) for row in log] == [0, 1, 2, 3, 4]  # no epoch lost or repeated
    assert len(history.history["loss"]) == 2 and len(rates) == 2
    # Training went on from the restored weights, not from the fresh ones.
    assert log[3]["loss"] < 0.8 * fresh_loss, (log[3]["loss"], fresh_loss)
    assert not files["backup"].exists()  # a finished run cleans its backup
    assert files["model"].exists() and files["plot"].exists()
    best_row = min(log, key=lambda row: row["val_loss"])
    best_model = keras.saving.load_model(files["model"])
    best_model.compile(loss=AbMeanSquaredError())  # the best-model file carries no optimizer or loss
    assert best_model.evaluate(val, verbose=0) == pytest.approx(best_row["val_loss"], rel=1e-4)
    with pytest.raises(FileNotFoundError, match="already finished"):
        runfiles.check_output(output, resume=True)


@pytest.mark.slow
def test_crash_between_log_and_backup_redoes_that_epoch_once(tmp_path):
    output = tmp_path / "model.keras"
    model, train, val = _setup()
    with pytest.raises(RuntimeDropped):
        training.fit(model, train, val, output, epochs=4, verbose=0, extra_callbacks=[DropRuntime(1, at="end")])
    model, train, val = _setup(seed=1)
    training.fit(model, train, val, output, epochs=4, resume=True, verbose=0)
    assert [int(row["epoch"]) for row in runfiles.read_log(runfiles.run_files(output)["log"])] == [0, 1, 2, 3]


def test_a_run_that_died_in_its_first_epoch_can_simply_be_started_again(tmp_path):
    output = tmp_path / "model.keras"
    model, train, val = _setup()
    with pytest.raises(RuntimeDropped):
        training.fit(model, train, val, output, epochs=3, verbose=0, extra_callbacks=[DropRuntime(0, at="begin")])
    files = runfiles.run_files(output)
    files["settings"].write_text("{}")  # train_*.py writes its settings before training starts
    assert not files["backup"].exists() and not files["model"].exists()
    with pytest.raises(FileNotFoundError, match="never finished an epoch"):
        runfiles.check_output(output, resume=True)
    runfiles.check_output(output, resume=False)  # no error: nothing of value to protect


def test_patience_and_min_delta_reach_early_stopping(tmp_path):
    callbacks, _ = run_callbacks.make_callbacks(tmp_path / "m.keras", patience=3, min_delta=5e-5)
    stopper = next(c for c in callbacks if isinstance(c, run_callbacks.ResumableEarlyStopping))
    assert stopper.patience == 3 and abs(stopper.min_delta) == pytest.approx(5e-5)
    assert any(isinstance(callback, run_callbacks.EpochBackup) for callback in callbacks)


def test_early_stopping_state_is_replayed_from_the_log(tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss,val_loss\n0,1.0,0.50\n1,0.9,0.60\n2,0.8,0.55\n3,0.8,0.52\n")
    stopper = run_callbacks.ResumableEarlyStopping(log, monitor="val_loss", min_delta=1e-3, patience=7)
    stopper.set_model(build_simple_model(width=0.125))
    stopper.on_train_begin()
    assert stopper.best == pytest.approx(0.50) and stopper.wait == 3


def test_adamw_excludes_biases_and_batchnorm_from_decay():
    optimizer = make_adamw(1e-3)
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert optimizer.beta_1 == 0.9 and optimizer.beta_2 == 0.99
    assert float(optimizer.weight_decay) == pytest.approx(1e-3)
    layer = keras.layers.Conv2D(2, 3, name="c")
    layer.build((None, 8, 8, 1))
    norm = keras.layers.BatchNormalization(name="n")
    norm.build((None, 8, 8, 2))
    assert optimizer._use_weight_decay(layer.kernel)
    assert not optimizer._use_weight_decay(layer.bias)
    assert not optimizer._use_weight_decay(norm.gamma) and not optimizer._use_weight_decay(norm.beta)


def test_best_model_file_holds_no_optimizer_state(tmp_path):
    """The best-model file is for colorizing and --init: no optimizer variables, no compile settings
    (it loads without recompiling itself); the model being trained keeps its optimizer."""
    import io
    import json
    import warnings
    import zipfile

    import h5py

    from colorize import models
    from colorize.models.colorizer import make_colorizer
    from colorize.predict.engine import load_colorizer

    model, train, val = _setup()
    colorizer = make_colorizer(models.get("simple"), model)
    output = tmp_path / "run" / "m.keras"
    training.fit(model, train, val, output, epochs=2, verbose=0, saved=colorizer)
    with zipfile.ZipFile(output) as archive:
        found = []
        h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r").visit(found.append)
        config = archive.read("config.json").decode()
    assert not [key for key in found if "optimizer" in key]
    assert '"compile_config": {"' not in config and "adam" not in config.lower()
    assert model.optimizer is not None and model.compiled  # training goes on with its optimizer
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        reloaded = load_colorizer(output)
    x = np.linspace(0, 100, 16 * 16, dtype="float32").reshape(1, 16, 16, 1)
    np.testing.assert_allclose(np.asarray(reloaded(x)), np.asarray(colorizer(x)), atol=1e-5)
    json.loads(config)
