"""Compiled colorizers (colorize.predict.litert): same colours as Keras, used only when up to date, bad files
reported in one line, and a run on one never imports TensorFlow."""

import json
import shutil
import zipfile

import numpy as np
import pytest

from colorize.predict import litert as lite
from colorize.errors import ColorizeError
from conftest import make_tiny_colorizer, run_listing_modules, run_script, save_rgb, synthetic_photo

pytestmark = pytest.mark.skipif(not lite.runtime_available(), reason="the LiteRT runtime (ai-edge-litert) is not installed")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """{family: (MODEL.keras, MODEL.lite)}: tiny untrained colorizers and their compiled companions,
    made by ``python -m colorize.cli.export`` (a regression head, and a bins head with its annealed mean)."""
    import keras

    from colorize.cli.export import main as export_main

    folder = tmp_path_factory.mktemp("lite")
    paths = {}
    for family in ("simple", "zhang"):
        source = folder / f"{family}.keras"
        make_tiny_colorizer(family, training_size=64).save(source)
        assert export_main([str(source), str(source.with_suffix(".lite"))]) == 0
        paths[family] = source, source.with_suffix(".lite")
    keras.backend.clear_session()
    return paths


def _both_engines(keras_path):
    from colorize.predict.engine import load_colorizer

    return load_colorizer(keras_path, engine="keras"), load_colorizer(keras_path, engine="litert")


@pytest.mark.slow
@pytest.mark.parametrize("family", ["simple", "zhang"])
def test_compiled_colorizer_gives_the_keras_colours_and_description(family, compiled):
    from colorize.predict.pipeline import colorize_image, decode, predict_raw

    keras_model, lite_model = _both_engines(compiled[family][0])
    assert isinstance(lite_model, lite.LiteColorizer)
    for name in ("family", "head", "input_multiple", "output_stride", "training_size", "temperature", "options"):
        assert getattr(lite_model, name) == getattr(keras_model, name), name
    photo = synthetic_photo(70, 110, seed=3)
    lightness = [photo[..., 0].astype(np.float32) * 100 / 255]
    raw_keras = predict_raw(keras_model, lightness)[0]
    raw_lite = predict_raw(lite_model, lightness)[0]
    assert raw_lite.shape == raw_keras.shape
    np.testing.assert_allclose(raw_lite, raw_keras, atol=1e-3)
    for temperature in (None, 0.1, 1.0):  # the decoder is compiled too (annealed mean for bins)
        np.testing.assert_allclose(decode(lite_model, raw_lite, temperature),
                                   decode(keras_model, raw_keras, temperature), atol=1e-2)
    # Batches of several shapes and sizes go through one interpreter (tensors resized per shape).
    for shape in ((2, 64, 96, 1), (3, 32, 32, 1), (2, 64, 96, 1)):
        batch = np.random.default_rng(0).uniform(0, 100, shape).astype(np.float32)
        np.testing.assert_allclose(lite_model.network(batch), keras_model.network(batch, training=False).numpy(),
                                   atol=1e-3)
    rgb_keras = colorize_image(photo, keras_model).astype(int)
    rgb_lite = colorize_image(photo, lite_model).astype(int)
    assert np.abs(rgb_keras - rgb_lite).max() <= 1


def test_companion_is_used_only_when_compiled_from_exactly_that_file(compiled, tmp_path):
    from colorize.predict.engine import model_engine

    source = shutil.copy(compiled["simple"][0], tmp_path / "model.keras")
    assert model_engine(source, "auto") == ("keras", source)  # no companion yet
    companion = shutil.copy(compiled["simple"][1], tmp_path / "model.lite")
    assert model_engine(source, "auto") == ("litert", companion)
    assert model_engine(source, "keras") == ("keras", source)
    # The .keras file retrained (other bytes): the companion is stale and never used.
    make_tiny_colorizer("simple", training_size=64, seed=1).save(source)
    assert lite.compiled_companion(source) is None
    assert model_engine(source, "auto") == ("keras", source)
    with pytest.raises(ColorizeError, match="no up-to-date compiled copy model.lite"):
        model_engine(source, "litert")
    with pytest.raises(ColorizeError, match="runs on LiteRT only"):
        model_engine(companion, "keras")


def test_without_the_runtime_keras_runs_and_a_compiled_file_names_the_install(compiled, monkeypatch):
    from colorize.predict.engine import load_colorizer, model_engine

    def missing():
        raise ImportError("No module named 'ai_edge_litert'")

    monkeypatch.setattr(lite, "_interpreter_class", missing)
    source, compiled_file = compiled["simple"]
    assert model_engine(source, "auto") == ("keras", source)
    with pytest.raises(ColorizeError, match="pip install ai-edge-litert"):
        load_colorizer(compiled_file)
    with pytest.raises(ColorizeError, match="not installed"):
        model_engine(source, "litert")


def _bad_lite_files(folder, good):
    """(path, reason fragment) for every way a .lite file can be unusable."""
    empty = folder / "empty.lite"
    empty.write_bytes(b"")
    no_description = folder / "nodesc.lite"
    with zipfile.ZipFile(no_description, "w") as archive:
        archive.writestr("network.tflite", b"x")
    other_format = folder / "other.lite"
    with zipfile.ZipFile(other_format, "w") as archive:
        archive.writestr("colorizer.json", json.dumps({"format": "something/9"}))
    broken_network = folder / "broken.lite"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(broken_network, "w") as archive:
        archive.writestr("colorizer.json", source.read("colorizer.json"))
        archive.writestr("network.tflite", np.random.default_rng(0).bytes(5000))
    no_network = folder / "nonet.lite"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(no_network, "w") as archive:
        archive.writestr("colorizer.json", source.read("colorizer.json"))
    return [
        (empty, "not a compiled colorizer"),
        (no_description, "not a compiled colorizer"),
        (other_format, "not a compiled colorizer of format"),
        (broken_network, "corrupt compiled colorizer"),
        (no_network, "corrupt compiled colorizer"),
    ]


def test_bad_compiled_files_are_one_line_errors_and_write_nothing(compiled, tmp_path, capsys):
    from colorize.cli.colorize import colorize_command

    image = save_rgb(tmp_path / "x.png", synthetic_photo(32, 32))
    for model, reason in _bad_lite_files(tmp_path, compiled["simple"][1]):
        status = colorize_command(None, [str(image), "-o", str(tmp_path / "out"), "-m", str(model)])
        err = capsys.readouterr().err
        assert status == 2, (model, err)
        assert len(err.strip().splitlines()) == 1 and model.name in err and reason in err, err
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_cli_engines_and_families(compiled, tmp_path, capsys):
    from colorize.cli.colorize import colorize_command

    image = save_rgb(tmp_path / "x.png", synthetic_photo(40, 48, seed=2))
    source, compiled_file = compiled["zhang"]
    outputs = {}
    for engine, model in (("auto", compiled_file), ("keras", source)):
        status = colorize_command("complex", [str(image), "-o", str(tmp_path / engine), "-m", str(model),
                                              "--engine", engine, "-q"])
        assert status == 0, capsys.readouterr().err
        outputs[engine] = (tmp_path / engine / "x.png").read_bytes()
    import cv2

    decoded = [cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).astype(int) for data in outputs.values()]
    assert np.abs(decoded[0] - decoded[1]).max() <= 1
    # A compiled model keeps its family: colorize_simple.py refuses a zhang one, as it does the .keras file.
    status = colorize_command("simple", [str(image), "-o", str(tmp_path / "s"), "-m", str(compiled_file)])
    err = capsys.readouterr().err
    assert status == 2 and "zhang model" in err and "colorize_complex.py" in err
    status = colorize_command(None, [str(image), "-o", str(tmp_path / "k"), "-m", str(compiled_file), "--engine", "keras"])
    err = capsys.readouterr().err
    assert status == 2 and "runs on LiteRT only" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_export_writes_a_companion_only_for_an_unchanged_model(compiled, tmp_path, capsys):
    from colorize.cli.export import main as export_main

    source = shutil.copy(compiled["zhang"][0], tmp_path / "z.keras")
    target = tmp_path / "z.lite"
    assert export_main([str(source), str(target), "--temperature", "0.5"]) == 0
    description = lite.read_description(target)
    assert description["temperature"] == 0.5 and description["source_sha256"] is None
    assert lite.compiled_companion(source) is None  # other settings than the .keras file: not a stand-in
    with pytest.raises(SystemExit):
        export_main([str(source), str(target)])  # exists, no --overwrite
    assert "exists" in capsys.readouterr().err
    assert export_main([str(source), str(target), "--overwrite"]) == 0
    assert lite.compiled_companion(source) == target
    with pytest.raises(SystemExit):
        export_main([str(source), str(tmp_path / "z.tflite")])
    assert "must end in .keras or .lite" in capsys.readouterr().err


def test_bundled_compiled_copies_are_up_to_date():
    from colorize.models.presets import DEFAULT_MODEL, bundled_model

    for name in {DEFAULT_MODEL, "simple", "guided"}:
        source = bundled_model(name)
        assert lite.compiled_companion(source) == source.with_suffix(".lite"), (
            f"{source.with_suffix('.lite')} is missing or stale: python -m colorize.cli.export {source} "
            f"{source.with_suffix('.lite')} --overwrite")


@pytest.mark.parametrize("script", ["colorize_complex.py", "colorize_simple.py"])
def test_no_argument_run_uses_the_compiled_default_and_never_imports_tensorflow(script, tmp_path):
    result, loaded = run_listing_modules(script, "-o", tmp_path)
    assert loaded == [], "a run on the compiled default imported " + ", ".join(loaded)
    noise = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("colorizing")]
    assert not noise, result.stderr  # only the progress bar: no runtime banner
    assert sorted(p.name for p in tmp_path.iterdir()) == ["astronaut.png", "chelsea.png", "coffee.png"]


@pytest.mark.slow
def test_bundled_default_gives_the_same_pictures_on_both_engines(tmp_path):
    import cv2

    for engine in ("auto", "keras"):
        result = run_script("colorize_complex.py", "-o", tmp_path / engine, "--engine", engine, "-q")
        assert result.returncode == 0, result.stderr
    for name in ("astronaut.png", "chelsea.png", "coffee.png"):
        fast, slow = (cv2.imread(str(tmp_path / engine / name)).astype(int) for engine in ("auto", "keras"))
        difference = np.abs(fast - slow)
        assert difference.max() <= 1 and (difference > 0).mean() < 0.001, name


@pytest.mark.slow
def test_concurrent_copies_of_a_compiled_colorizer_give_its_colours(compiled, monkeypatch):
    """concurrent_colorizers: one single-threaded interpreter per core for a compiled colorizer (the same
    output, each usable from its own thread); a Keras colorizer comes back alone."""
    import threading

    from colorize.predict.pipeline import concurrent_colorizers, predict_ab

    keras_model, lite_model = _both_engines(compiled["zhang"][0])
    assert concurrent_colorizers(keras_model) == [keras_model]
    import colorize.runtime

    for module in (lite, colorize.runtime):  # two cores, whatever this machine has
        monkeypatch.setattr(module, "usable_cpus", lambda: 2)
    copies = concurrent_colorizers(lite_model)
    assert len(copies) == 2 and all(isinstance(copy, lite.LiteColorizer) for copy in copies)
    assert lite_model.replicas(1) == [lite_model]
    import colorize.runtime

    monkeypatch.setattr(colorize.runtime, "usable_cpus", lambda: 96)  # a big server: copies capped
    assert len(concurrent_colorizers(lite_model)) == 8
    monkeypatch.setattr(colorize.runtime, "usable_cpus", lambda: 2)
    photos = [synthetic_photo(64, 96, seed=seed)[..., 0].astype(np.float32) * 100 / 255 for seed in range(4)]
    expected = predict_ab(lite_model, photos)
    results = [None, None]

    def work(index):
        results[index] = predict_ab(copies[index], photos)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        for mine, theirs in zip(result, expected):
            np.testing.assert_allclose(mine, theirs, atol=1e-4)


@pytest.mark.slow
def test_a_folder_on_concurrent_compiled_copies_gives_the_single_copys_files(compiled, tmp_path, monkeypatch):
    """The colorize command runs a folder's batches on one compiled copy per core: the same files, pixel for
    pixel, as on one copy (batches finish in input order whichever copy ran them)."""
    import cv2

    from colorize.cli.colorize import colorize_command
    from colorize.predict import pipeline

    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(20):  # three batches of 8
        save_rgb(folder / f"p{index:02d}.png", synthetic_photo(40 + index, 60, seed=index))
    keras_path = compiled["zhang"][0]
    import colorize.runtime

    for module in (lite, colorize.runtime):  # two cores, whatever this machine has
        monkeypatch.setattr(module, "usable_cpus", lambda: 2)
    used = []
    real = pipeline.concurrent_colorizers

    def spy(colorizer, count=None):
        copies = real(colorizer, count)
        used.append(len(copies))
        return copies

    monkeypatch.setattr(pipeline, "concurrent_colorizers", spy)
    assert colorize_command("complex", [str(folder), "-o", str(tmp_path / "two"), "-m", str(keras_path),
                                        "--engine", "litert", "-q"]) == 0
    monkeypatch.setattr(pipeline, "concurrent_colorizers", lambda colorizer, count=None: [colorizer])
    assert colorize_command("complex", [str(folder), "-o", str(tmp_path / "one"), "-m", str(keras_path),
                                        "--engine", "litert", "-q"]) == 0
    assert used == [2]
    names = sorted(p.name for p in (tmp_path / "one").glob("*.png"))
    assert len(names) == 20 and names == sorted(p.name for p in (tmp_path / "two").glob("*.png"))
    for name in names:
        np.testing.assert_array_equal(cv2.imread(str(tmp_path / "two" / name)), cv2.imread(str(tmp_path / "one" / name)))
