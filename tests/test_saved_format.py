"""The saved-model format: self-describing files, old files converted, the bundled ones current,
and a package whose import and --help never load Keras or TensorFlow."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, run_listing_modules, run_script


def _release_01_simple_network(width=0.125):
    """The simple model as release 0.1 built it: normalised L in, normalised ab out, nothing else."""
    import keras
    from keras import layers

    inputs = keras.Input(shape=(None, None, 1), name="lightness")
    x = inputs
    for index, filters in enumerate((64, 128, 256), start=1):
        x = layers.Conv2D(max(8, round(filters * width)), 3, padding="same", activation="relu", name=f"enc{index}_conv")(x)
        x = layers.Conv2D(max(8, round(filters * width)), 3, strides=2, padding="same", activation="relu",
                          name=f"enc{index}_down")(x)
    x = layers.Conv2D(max(8, round(512 * width)), 3, padding="same", activation="relu", name="bottleneck")(x)
    for index, filters in enumerate((256, 128, 64), start=1):
        x = layers.UpSampling2D(2, name=f"dec{index}_up")(x)
        x = layers.Conv2D(max(8, round(filters * width)), 3, padding="same", activation="relu", name=f"dec{index}_conv")(x)
    return keras.Model(inputs, layers.Conv2D(2, 3, padding="same", name="ab")(x), name="colorize_simple")


@pytest.mark.slow
def test_old_format_files_are_converted_with_a_note_and_give_the_same_colours(tmp_path):
    import keras

    from colorize.predict.engine import LegacyModelWarning, load_colorizer

    keras.utils.set_random_seed(0)
    old = _release_01_simple_network()
    old.compile(optimizer="adam", loss="mean_squared_error")  # 0.1 saved the optimizer too
    path = tmp_path / "old.keras"
    old.save(path)
    (tmp_path / "old_settings.json").write_text(json.dumps({"size": 48, "width": 0.125}))
    with pytest.warns(LegacyModelWarning, match="old format"):
        model = load_colorizer(path)
    assert (model.family, model.head, model.training_size, model.options) == ("simple", "regression", 48, {"width": 0.125})
    lightness = np.random.default_rng(0).uniform(0, 100, (2, 24, 32, 1)).astype(np.float32)
    expected = np.asarray(old.predict_on_batch((lightness - 50) / 100)) * 110
    np.testing.assert_allclose(model.predict_on_batch(lightness), expected, rtol=1e-4, atol=1e-3)

    # python -m colorize.cli.export converts it for good: no note on loading the new file.
    converted = tmp_path / "new.keras"
    result = subprocess.run([sys.executable, "-m", "colorize.cli.export", str(path), str(converted)],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error", LegacyModelWarning)
        again = load_colorizer(converted)
    np.testing.assert_allclose(again.predict_on_batch(lightness), expected, rtol=1e-4, atol=1e-3)
    # ... and never replaces an existing file unless asked.
    refused = subprocess.run([sys.executable, "-m", "colorize.cli.export", str(path), str(converted)],
                             capture_output=True, text=True, cwd=REPO, timeout=300)
    assert refused.returncode == 2 and "exists" in refused.stderr


def test_bundled_models_are_self_describing():
    import zipfile

    from colorize.models.presets import bundled_model

    for name, family, head, size in (("simple", "simple", "regression", 64), ("zhang", "zhang", "bins", 128),
                                     ("unet", "unet", "bins", 128), ("gan", "gan", "regression", 128)):
        config = json.loads(zipfile.ZipFile(bundled_model(name)).read("config.json"))
        assert config["class_name"] == "Colorizer"
        described = config["config"]
        assert (described["family"], described["head"], described["training_size"]) == (family, head, size)
        assert described["input_multiple"] == (32 if family in ("unet", "gan") else 8)  # the Lite0 encoder's stride
    from colorize.quantize import ab_bins

    bins = json.loads(zipfile.ZipFile(bundled_model("zhang")).read("config.json"))["config"]["bins"]
    np.testing.assert_array_equal(np.asarray(bins, np.float32), ab_bins())


@pytest.mark.parametrize(
    "script,args",
    [
        ("colorize_complex.py", ["--help"]),
        ("colorize_simple.py", ["--help"]),
        ("train_complex.py", ["--help"]),
        ("train_complex.py", ["--arch", "zhang", "--help"]),
        ("train_simple.py", ["--help"]),
    ],
)
def test_help_imports_no_keras_tensorflow_or_image_libraries(script, args):
    result, loaded = run_listing_modules(script, *args, modules=("keras", "tensorflow", "cv2", "skimage", "matplotlib"),
                                         timeout=120)
    assert loaded == [], result.stdout[-500:]
    assert "usage:" in result.stdout


def test_import_colorize_and_the_registry_load_no_keras():
    code = ("import sys, colorize, colorize.models, colorize.cli.colorize, colorize.cli.train, colorize.models.presets; "
            "colorize.models.get('zhang'); "
            "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_lazy_library_entry_points():
    import colorize

    assert callable(colorize.load_colorizer) and callable(colorize.colorize_image)
    with pytest.raises(AttributeError):
        colorize.no_such_thing  # noqa: B018


def test_colorize_console_help_names_the_default_model():
    result = run_script("colorize_complex.py", "--help", timeout=60)
    text = " ".join(result.stdout.split())  # argparse wraps lines
    from colorize.models.presets import DEFAULT_MODEL

    assert result.returncode == 0 and f"the bundled {DEFAULT_MODEL} model" in text
    assert "SHORTER side" in text and "0.01..10" in text and "(default: True)" not in text


@pytest.mark.parametrize("family", ["simple", "zhang"])
def test_files_saved_by_release_0_2_training_still_load(family):
    """Files written by training before the package was split into sub-packages (compiled networks with
    optimizer state, a rebalanced loss saved under its old module path) load with the same outputs."""
    import keras

    from colorize.predict.engine import load_colorizer

    data = Path(__file__).parent / "data"
    path = data / f"trained_0.2_{family}.keras"
    expected = np.load(data / f"trained_0.2_{family}_ab.npy")
    x = np.linspace(0, 100, 32 * 32, dtype="float32").reshape(1, 32, 32, 1)
    model = load_colorizer(path)
    assert model.family == family and model.training_size == 32
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-4)
    plain = keras.saving.load_model(path, compile=False)  # Keras alone, once colorize.models.colorizer is imported
    np.testing.assert_allclose(np.asarray(plain(x)), expected, atol=1e-4)
