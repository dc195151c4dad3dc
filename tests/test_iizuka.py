"""Iizuka et al.'s family: shared low-level path, fixed-size global path, joint classification, labels from folders."""

import json

import keras
import numpy as np
import pytest

from colorize import models
from colorize.train.data import LabBatches, class_labels
from conftest import photo_folder  # noqa: F401  (fixture)

FAMILY = models.get("iizuka")


def _settings(**overrides):
    from colorize.cli.train import build_train_parser

    settings = build_train_parser("iizuka").parse_args([])
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


@pytest.mark.slow
def test_global_path_sees_a_fixed_resize_and_shares_the_low_level_layers():
    keras.utils.set_random_seed(0)
    network = FAMILY.build(width=0.0625, global_size=32)
    for height, width in [(16, 16), (40, 96), (128, 64)]:  # smaller and larger than the global resize
        lightness = np.random.default_rng(height).uniform(0, 100, (2, height, width, 1)).astype(np.float32)
        ab = np.asarray(network.predict_on_batch(lightness))
        assert ab.shape == (2, height // 2, width // 2, 2)
        assert np.abs(ab).max() <= 128  # the sigmoid's range, in Lab units
    # One set of low-level weights, called on the photo and on its resize (two nodes per layer).
    low = [layer for layer in network.layers if layer.name.startswith("low") and layer.name.endswith("_conv")]
    assert len(low) == 6 and all(len(layer._inbound_nodes) == 2 for layer in low)
    with pytest.raises(ValueError, match="multiple of 32"):
        FAMILY.build(global_size=48)


def test_the_global_vector_reaches_every_position():
    """Changing one corner of the photo changes the colours at the far corner (through the global path only:
    the local path's receptive field is far smaller than the photo)."""
    keras.utils.set_random_seed(1)
    network = FAMILY.build(width=0.0625, global_size=32)
    lightness = np.full((1, 256, 256, 1), 50.0, np.float32)
    changed = lightness.copy()
    changed[:, :64, :64] = 95.0
    far = lambda x: np.asarray(network.predict_on_batch(x))[0, -8:, -8:]  # noqa: E731
    assert np.abs(far(lightness) - far(changed)).max() > 1e-4


def test_class_labels_are_folder_names():
    labels, names = class_labels({"train": ["a/cat/1.jpg", "b/dog/2.jpg"], "val": ["a/dog/3.jpg", "x/emu/4.jpg"]})
    assert names == ["cat", "dog", "emu"]
    assert labels["train"].tolist() == [0, 1] and labels["val"].tolist() == [1, 2]


def _toy_classes(count, size=32, seed=0):
    """Two classes a classifier can only tell apart by the L pattern: bright-top vs bright-bottom photos,
    whose colour also differs (red tops or blue bottoms), with random noise."""
    rng = np.random.default_rng(seed)
    images = np.empty((count, size, size, 3), np.uint8)
    labels = np.arange(count) % 2
    for index, label in enumerate(labels):
        image = rng.integers(40, 90, (size, size, 3))
        half = slice(0, size // 2) if label == 0 else slice(size // 2, size)
        image[half] = (220, 60, 60) if label == 0 else (60, 90, 230)
        images[index] = np.clip(image + rng.integers(-20, 21, image.shape), 0, 255)
    return images, labels.astype(np.int32)


@pytest.mark.slow
def test_joint_training_learns_colours_and_classes_above_chance():
    keras.utils.set_random_seed(2)
    settings = _settings(lr=3e-3, class_weight=1.0, class_names=["top", "bottom"], width=0.0625)
    network = FAMILY.build(width=0.0625, global_size=32)
    joint = FAMILY.training_model(network, settings)
    assert len(joint.outputs) == 2 and joint.outputs[1].shape[-1] == 2
    FAMILY.compile_for_training(joint, settings, None)
    images, labels = _toy_classes(64)
    held_out, held_labels = _toy_classes(32, seed=1)
    lightness, (ab, truth) = LabBatches(held_out, 32, labels=held_labels)[0]
    history = joint.fit(LabBatches(images, 16, shuffle=True, labels=labels), epochs=4, verbose=0).history
    assert history["ab_loss"][-1] < 0.6 * history["ab_loss"][0], history
    # Held-out photos through the class head, with the batch's own BatchNorm statistics: 16 steps are too
    # few for the moving averages that inference mode uses (momentum 0.99; real runs take thousands).
    predicted = np.argmax(keras.ops.convert_to_numpy(joint(lightness, training=True)[1]), axis=-1)
    assert (predicted == truth).mean() >= 0.8, predicted  # chance: 0.5
    # The saved colorizer is the ab network alone: L -> ab.
    assert len(network.outputs) == 1


def test_no_classification_trains_the_network_alone():
    settings = _settings(no_classification=True)
    network = FAMILY.build(width=0.0625, global_size=32)
    assert not FAMILY.uses_class_labels(settings) and FAMILY.training_model(network, settings) is network
    assert FAMILY.uses_class_labels(_settings())
    assert not FAMILY.uses_class_labels(_settings(class_weight=0.0))


@pytest.mark.slow
def test_training_command_feeds_folder_labels_and_logs_class_accuracy(photo_folder, tmp_path, capsys):  # noqa: F811
    from colorize.train.runfiles import read_log
    from colorize.cli.train import train_command

    output = tmp_path / "iizuka.keras"
    common = ["--data", str(photo_folder), "--epochs", "1", "--batch-size", "4", "--size", "32", "--global-size", "32",
              "--width", "0.0625"]
    assert train_command(None, ["iizuka", *common, "--output", str(output)]) == 0, capsys.readouterr().err
    settings = json.loads((tmp_path / "iizuka_settings.json").read_text())
    assert settings["class_names"] == ["class0", "class1"] and settings["class_weight_used"] > 0
    assert "val_class_accuracy" in read_log(tmp_path / "iizuka_log.csv")[0]
    model = keras.saving.load_model(output)
    assert model.family == "iizuka" and model.options == {"width": 0.0625, "global_size": 32}
    assert model.predict_on_batch(np.zeros((1, 40, 24, 1), np.float32)).shape == (1, 20, 12, 2)

    plain = tmp_path / "plain.keras"
    assert train_command(None, ["iizuka", *common, "--no-classification", "--output", str(plain)]) == 0
    assert "val_class_accuracy" not in read_log(tmp_path / "plain_log.csv")[0]

    capsys.readouterr()
    assert train_command(None, ["iizuka", *common[:-4], "--global-size", "48", "--output", str(tmp_path / "x.keras")]) == 2
    error = capsys.readouterr().err
    assert "global_size must be a positive multiple of 32" in error and "Traceback" not in error
