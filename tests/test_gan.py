"""The GAN family: the custom training step, its resumable state and its command line.

The shared family harness (tests/test_families.py) covers building, saving
and the generator's gradients; here: a tiny GAN learns on real photos (the
bundled samples), the discriminator learns to tell real from generated
colours, pretraining leaves it alone, a killed run resumes both optimizers,
and the saved file is the generator alone and colorizes.
"""

import json

import keras
import numpy as np
import pytest

from colorize.train.data import LabBatches, square_resize
from colorize.models import gan
from colorize.models.patchgan import build_discriminator

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the GAN trains on TensorFlow only")


def _sample_crops(size=32):
    """12 real colour photos: 4 crops (corners) of each bundled sample, resized to ``size``."""
    from colorize.models.presets import samples_folder
    from colorize.io import read_image

    crops = []
    for path in sorted(samples_folder().glob("*.jpg")):
        rgb = read_image(path)
        height, width = rgb.shape[:2]
        side = min(height, width) * 2 // 3
        for top, left in ((0, 0), (0, width - side), (height - side, 0), (height - side, width - side)):
            crops.append(square_resize(rgb[top : top + side, left : left + side], size))
    return np.stack(crops)


def _trainer(seed=0, lr=2e-3, gan_weight=1.0, pretrain_epochs=0):
    keras.utils.set_random_seed(seed)
    trainer = gan.GANTrainer(gan.build(backbone=gan.NO_BACKBONE, width=0.125), build_discriminator(8),
                             gan_weight=gan_weight, l1_weight=100.0, pretrain_epochs=pretrain_epochs)
    trainer.compile(gan.make_adam(lr), gan.make_adam(lr))
    return trainer


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.slow
def test_a_tiny_gan_learns_on_real_photos():
    images = _sample_crops()
    trainer = _trainer()
    evaluation = LabBatches(images, 12)
    before = trainer.evaluate(evaluation, verbose=0)
    history = trainer.fit(LabBatches(images, 4, shuffle=True), epochs=8, verbose=0).history
    after = trainer.evaluate(evaluation, verbose=0)
    # The generator's L1 falls, in training mode and in inference mode (BatchNorm's moving statistics).
    assert history["loss"][-1] < 0.8 * history["loss"][0], history["loss"]
    assert after < before, (before, after)
    # Both players were trained and logged.
    assert {"g_adv", "d_loss", "d_real", "d_fake"} <= set(history)
    assert all(np.isfinite(history[key]).all() for key in ("g_adv", "d_loss"))


def test_a_discriminator_step_separates_real_from_generated_colours():
    images = _sample_crops()
    trainer = _trainer(seed=1, lr=1e-2)
    lightness, ab = LabBatches(images, 12)[0]
    generator = _values(trainer.generator.weights)
    first = trainer.train_discriminator_on_batch(lightness, ab)
    assert abs(first["d_real"] - first["d_fake"]) < 0.1  # untrained: no opinion yet
    for _ in range(5):
        logs = trainer.train_discriminator_on_batch(lightness, ab)
    # P(real) is higher for the true colours than for the (gray, untrained) generator's.
    assert logs["d_real"] > logs["d_fake"] + 0.2, logs
    assert logs["d_loss"] < first["d_loss"]
    assert _same(generator, _values(trainer.generator.weights))  # a discriminator-only step


@pytest.mark.slow
def test_pretraining_epochs_leave_the_discriminator_alone():
    images = _sample_crops()
    trainer = _trainer(seed=2, pretrain_epochs=1)
    batches = LabBatches(images, 4)
    discriminator = _values(trainer.discriminator.trainable_weights)
    generator = _values(trainer.generator.trainable_weights)
    trainer.fit(batches, epochs=1, verbose=0)
    assert _same(discriminator, _values(trainer.discriminator.trainable_weights))
    assert not _same(generator, _values(trainer.generator.trainable_weights))
    trainer.fit(batches, initial_epoch=1, epochs=2, verbose=0)  # the adversarial phase (as a resumed run)
    assert not _same(discriminator, _values(trainer.discriminator.trainable_weights))


@pytest.mark.slow
def test_a_killed_run_resumes_both_optimizers(tmp_path):
    from colorize.train import runfiles, fit as training

    images = _sample_crops()
    train, val = LabBatches(images, 4, shuffle=True), LabBatches(images[:4], 4)
    output = tmp_path / "gan.keras"
    states = {}

    def optimizer_state(trainer):
        return {name: _values(opt.variables) for name, opt in
                (("generator", trainer.optimizer), ("discriminator", trainer.discriminator_optimizer))}

    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:  # of 3
                states["killed"] = optimizer_state(self.model)
                states["weights"] = _values(self.model.weights)
                raise KeyboardInterrupt  # the runtime is gone after epoch 2's commit

    with pytest.raises(KeyboardInterrupt):
        training.fit(_trainer(seed=3), train, val, output, epochs=3, verbose=0, extra_callbacks=[Kill()])
    assert (runfiles.run_files(output)["backup"] / "epoch-000002.weights.h5").exists()

    class Restored(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if "restored" not in states:
                states["restored"] = optimizer_state(self.model)
                states["restored_weights"] = _values(self.model.weights)
                states["first_epoch"] = epoch

    resumed = _trainer(seed=4)  # other random weights: only the backup can make them equal
    training.fit(resumed, train, val, output, epochs=3, resume=True, verbose=0, extra_callbacks=[Restored()])
    assert states["first_epoch"] == 2
    for name in ("generator", "discriminator"):
        killed, restored = states["killed"][name], states["restored"][name]
        assert int(killed[0]) == 2 * len(train) and len(killed) > 1  # iterations, then Adam's moments
        assert len(killed) == len(restored) and _same(killed, restored), name
    assert _same(states["weights"], states["restored_weights"])
    assert [int(row["epoch"]) for row in runfiles.read_log(runfiles.run_files(output)["log"])] == [0, 1, 2]


def _train_args(folder, output, *extra):
    return ["--data", str(folder), "--epochs", "2", "--size", "32", "--batch-size", "4", "--output", str(output),
            "--backbone", "none", "--width", "0.125", "--disc-filters", "8", "--pretrain-epochs", "1", *extra]


@pytest.mark.slow
def test_train_complex_gan_saves_the_generator_alone_and_it_colorizes(photo_folder, tmp_path, capsys):
    from colorize.cli.colorize import colorize_command
    from colorize.predict.engine import load_colorizer
    from colorize.train.runfiles import read_log, run_files
    from colorize.cli.train import train_command

    output = tmp_path / "gan.keras"
    assert train_command("complex", ["--arch", "gan", *_train_args(photo_folder, output)]) == 0, capsys.readouterr().err
    files = run_files(output)
    assert not files["backup"].exists() and files["plot"].stat().st_size > 0
    rows = read_log(files["log"])
    assert len(rows) == 2 and {"loss", "val_loss", "g_adv", "d_loss", "d_real", "d_fake"} <= set(rows[0])
    settings = json.loads(files["settings"].read_text())
    assert settings["pretrain_epochs"] == 1 and settings["l1_weight"] == 100.0
    colorizer = load_colorizer(output)
    assert colorizer.family == "gan" and colorizer.options == {"backbone": "none", "width": 0.125}
    # The generator alone: exactly the weights of a freshly built generator, no discriminator.
    assert len(colorizer.network.weights) == len(gan.build(backbone="none", width=0.125).weights)
    assert not any("discriminator" in weight.path or weight.path.startswith("d1_") for weight in colorizer.weights)
    image = photo_folder / "class0" / "img00.jpg"
    assert colorize_command("complex", [str(image), "-o", str(tmp_path / "out"), "--model", str(output), "-q"]) == 0
    assert (tmp_path / "out" / "img00.png").exists()


@pytest.mark.parametrize("extra, message", [
    (["--gan-weight", "-1"], "--gan-weight must not be negative"),
    (["--gan-weight", "0", "--l1-weight", "0"], "cannot both be 0"),
    (["--disc-filters", "0"], "--disc-filters must be at least 1"),
])
def test_bad_gan_options_fail_in_one_line(extra, message, photo_folder, tmp_path, capsys):
    from colorize.cli.train import train_command

    with pytest.raises(SystemExit) as exit_info:
        train_command(None, ["gan", *_train_args(photo_folder, tmp_path / "g.keras", *extra)])
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and message in error.splitlines()[-1]  # argparse: usage, then one error line
    assert "Traceback" not in error


def test_other_backends_are_refused_in_one_line(photo_folder, tmp_path, capsys, monkeypatch):
    from colorize.cli.train import train_command

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert train_command(None, ["gan", *_train_args(photo_folder, tmp_path / "g.keras")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.splitlines() == [error] and "tensorflow backend only, not jax" in error
    assert not (tmp_path / "g.keras").exists()


@pytest.mark.slow
def test_init_from_a_trained_regression_unet(photo_folder, tmp_path, capsys):
    """The pretrained generator is the unet family's regression network: --init takes its weights;
    a bins U-Net (another network) is refused in one line."""
    from conftest import make_tiny_colorizer

    from colorize.predict.engine import load_colorizer
    from colorize.models import get
    from colorize.models.colorizer import make_colorizer
    from colorize.cli.train import train_command

    unet = make_tiny_colorizer("unet", training_size=32)  # regression head, width 0.125
    unet.save(tmp_path / "unet.keras")
    output = tmp_path / "gan.keras"
    args = _train_args(photo_folder, output, "--init", str(tmp_path / "unet.keras"))
    args[args.index("none")] = "efficientnet_lite0"
    assert train_command(None, ["gan", *args, "--epochs", "1", "--pretrain-epochs", "0"]) == 0, capsys.readouterr().err
    trained = load_colorizer(output).network
    moved = [not np.allclose(a, b) for a, b in zip(trained.get_weights(), unet.network.get_weights())]
    encoder = len(trained.get_layer("encoder").weights)
    assert not any(moved[:encoder]) and any(moved[encoder:])  # the frozen encoder kept, the decoder trained

    family = get("unet")
    bins = make_colorizer(family, family.build(backbone="efficientnet_lite0", head="bins", width=0.125),
                          training_size=32, options={"backbone": "efficientnet_lite0", "head": "bins", "width": 0.125})
    bins.save(tmp_path / "bins.keras")
    args[args.index(str(tmp_path / "unet.keras"))] = str(tmp_path / "bins.keras")
    capsys.readouterr()
    assert train_command(None, ["gan", *args, "--output", str(tmp_path / "other.keras")]) == 2
    error = capsys.readouterr().err  # progress bars and data warnings, then the error
    assert error.strip().splitlines()[-1].startswith("colorize-train gan: error: --init") and "Traceback" not in error


@pytest.mark.slow
def test_recognition_and_neutral_terms_are_logged_and_lower_the_neutral_chroma():
    """The optional generator terms run inside the GAN step: logged, finite, and a generator trained with a
    strong neutral term paints gray photos less than one trained without it."""
    crops = _sample_crops(32)
    gray = np.repeat(np.mean(crops, axis=-1, keepdims=True), 3, axis=-1).astype(np.uint8)
    photos = np.concatenate([crops, gray])
    painted = {}
    for weight in (0.0, 50.0):
        keras.utils.set_random_seed(0)
        generator = gan.build(backbone="none", width=0.125)
        trainer = gan.GANTrainer(generator, build_discriminator(8), gan_weight=0.0, recognition_weight=0.5,
                                 neutral_weight=weight, recognition_size=64)
        trainer.compile(gan.make_adam(2e-3), gan.make_adam(2e-3))
        history = trainer.fit(LabBatches(photos, 4, shuffle=True), epochs=3, verbose=0)
        assert np.isfinite(history.history["g_recognition"]).all() and "g_neutral" in history.history or weight == 0
        lightness = LabBatches(gray, len(gray))[0][0]
        ab = np.asarray(generator(lightness, training=False))
        painted[weight] = float(np.hypot(ab[..., 0], ab[..., 1]).mean())
    assert painted[50.0] < painted[0.0]
