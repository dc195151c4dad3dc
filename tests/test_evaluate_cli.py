"""python -m colorize.cli.evaluate end to end: JSON, figures, the gray baseline, and one-line errors."""

import json
import math
import os
import subprocess
import sys
import zipfile

import cv2
import numpy as np
import pytest

from colorize.cli import evaluate
from colorize.quantize import ab_bins
from conftest import REPO, save_rgb, synthetic_photo

SIZE = 32  # tiny working size: the models are untrained, only the plumbing is tested here


def run_evaluate(*args, timeout=300):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "colorize.cli.evaluate", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env, timeout=timeout)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("evaluate: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """4 colour photos of different sizes in nested folders, plus one gray photo and one non-image."""
    root = tmp_path_factory.mktemp("eval") / "photos"
    for index, (height, width) in enumerate([(48, 64), (40, 40), (56, 48), (33, 70)]):
        save_rgb(root / f"class{index % 2}" / f"photo{index}.png", synthetic_photo(height, width, seed=index))
    gray = np.repeat(synthetic_photo(40, 40, seed=9).mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    save_rgb(root / "gray.png", gray)
    (root / "class1" / "broken.jpg").write_bytes(b"not really a jpeg")
    return root


def test_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        evaluate.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    options = ("--model", "--data", "--limit", "--seed", "--size", "--temperature", "--json", "--figures", "--rows")
    for option in options:
        assert option in out


@pytest.mark.slow
def test_end_to_end_json_table_and_figures(photos, tiny_models, tmp_path):
    out_json, figures = tmp_path / "results.json", tmp_path / "figs"
    result = run_evaluate(
        "--model", tiny_models["simple"], "--model", tiny_models["complex"], "--data", photos,
        "--size", SIZE, "--temperature", "0.2", "1", "--json", out_json, "--figures", figures, "--rows", 3,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "skipped 2" in warnings[0]
    assert "gray baseline" in result.stdout and "AuC" in result.stdout

    report = json.loads(out_json.read_text())
    assert report["images"] == 4 and report["skipped"] == 2
    rows = report["results"]
    assert [(r["model"], r["family"], r["head"], r["temperature"]) for r in rows] == [
        ("gray baseline", None, "gray", None),
        ("simple", "simple", "regression", None),
        ("complex", "zhang", "bins", 0.2),
        ("complex", "zhang", "bins", 1.0),
    ]
    for row in rows:
        assert 0 <= row["auc_rebalanced"] <= 1 and 0 < row["auc"] <= 1
        assert -1 <= row["ssim"] <= 1 and row["psnr"] > 5
        assert row["colourfulness_ratio"] >= 0 and row["mse_ab"] >= 0
        assert row["lightness_error"] < 1.0  # every output keeps the photo's own lightness
        assert row["images"] == 4
        assert ("top1" in row) == (row["head"] == "bins")
    gray = rows[0]
    assert gray["colourfulness_ratio"] < 0.05 and gray["colourfulness"] < 3
    assert report["truth"]["colourfulness"] > 20
    for row in rows[2:]:
        assert 0 <= row["top1"] <= row["top5"] <= 1 and 0 <= row["approx_accuracy"] <= 1
        assert row["cross_entropy"] > 0
    # An untrained classifier predicts nearly uniform bins: CE close to log(Q).
    assert rows[2]["cross_entropy"] == pytest.approx(math.log(len(ab_bins())), rel=0.3)

    grid = cv2.imread(str(figures / "comparison.png"))
    sweep = cv2.imread(str(figures / "temperature_sweep.png"))
    assert grid is not None and sweep is not None
    # 3 rows x 4 columns (input, simple, complex, truth): the truth column is colourful
    spread = grid.max(-1).astype(int) - grid.min(-1)
    assert np.count_nonzero(spread[:, -grid.shape[1] // 4 :] > 60) > 500
    assert grid.shape[0] > grid.shape[1] * 0.4


@pytest.mark.slow
def test_default_temperature_is_each_models_own(photos, tmp_path):
    """Without -t a classifier is scored at the temperature stored in its file, as the colorize scripts use it."""
    import keras

    from conftest import make_tiny_colorizer

    model = make_tiny_colorizer("zhang")
    model.temperature = 0.7
    path = tmp_path / "warm.keras"
    model.save(path)
    keras.backend.clear_session()
    out_json = tmp_path / "results.json"
    result = run_evaluate("--model", path, "--data", photos, "--size", SIZE, "--limit", 2, "--json", out_json)
    assert result.returncode == 0, result.stderr
    report = json.loads(out_json.read_text())
    assert [row["temperature"] for row in report["results"]] == [None, 0.7]
    assert report["temperatures"] == {"warm": [0.7]}


def test_scores_come_from_the_shared_inference_path(photos, tiny_models, tmp_path):
    """The simple model's PSNR in the JSON equals scoring colorize_image's outputs by hand."""
    import keras

    from colorize.evaluation import metrics
    from colorize.predict.engine import load_colorizer
    from colorize.predict.pipeline import colorize_image
    from colorize.io import is_grayscale, list_images, read_image

    out_json = tmp_path / "r.json"
    # In-process (the subprocess run is covered above): same code, no second backend start-up.
    assert evaluate.main(["--model", str(tiny_models["simple"]), "--data", str(photos), "--size", str(SIZE),
                          "--json", str(out_json), "-q"]) == 0
    row = json.loads(out_json.read_text())["results"][1]
    model = load_colorizer(tiny_models["simple"])
    values = []
    for path in list_images(photos):
        try:
            rgb = read_image(path)
        except Exception:
            continue
        if not is_grayscale(rgb):
            values.append(metrics.psnr(colorize_image(rgb, model, size=SIZE), rgb))
    keras.backend.clear_session()
    assert row["psnr"] == pytest.approx(np.mean(values), rel=1e-4)


def test_limit_and_seed_choose_reproducibly(photos):
    paths = evaluate.find_photos([photos])
    assert len(paths) == 6

    def chosen(limit, seed):
        skipped = [0]
        taken = [p for batch in evaluate.iter_photo_batches(paths, limit, seed, batch=2, skipped=skipped)
                 for p, _ in batch]
        return taken, skipped[0]

    first, _ = chosen(3, seed=5)
    assert len(first) == 3 and chosen(3, seed=5)[0] == first
    everything, skipped = chosen(None, seed=5)
    assert len(everything) == 4 and skipped == 2
    assert set(first) <= set(everything)
    assert {tuple(chosen(3, seed=s)[0]) for s in range(8)} != {tuple(first)}  # the seed matters


def test_json_has_no_nan_or_inf():
    cleaned = evaluate.json_safe({"a": math.inf, "b": [math.nan, 1.5], "c": np.float32(2.0), "d": np.int64(3)})
    assert json.dumps(cleaned, allow_nan=False) == '{"a": null, "b": [null, 1.5], "c": 2.0, "d": 3}'


def test_model_names_are_unique():
    assert evaluate.model_names(["a/m.keras", "b/n.keras"]) == ["m", "n"]
    assert evaluate.model_names(["a/m.keras", "b/m.keras"]) == ["a/m.keras", "b/m.keras"]


def _rgb_output_model(folder):
    """A valid .keras file that is no colorizer: 3 output channels."""
    import keras

    inputs = keras.Input((None, None, 1))
    path = folder / "rgb.keras"
    keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs)).save(path)
    return path


def _bad_input_cases(photos, tmp_path):
    gray_only = tmp_path / "gray_only"
    save_rgb(gray_only / "g.png", np.full((32, 32, 3), 90, np.uint8))
    (gray_only / "notes.jpg").write_text("not an image")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    broken_zip = tmp_path / "broken.keras"
    with zipfile.ZipFile(broken_zip, "w") as archive:
        archive.writestr("config.json", "{ this is not json")
    text = tmp_path / "model.txt"
    text.write_text("definitely not a model")
    return {
        "not a colorizer": (["--model", _rgb_output_model(tmp_path), "--data", photos], "not a colorize model"),
        "missing folder": (["--data", tmp_path / "nowhere"], "nowhere"),
        "no colour photos": (["--data", gray_only], "gray_only"),
        "missing model": (["--model", tmp_path / "missing.keras", "--data", photos], "missing.keras"),
        "random bytes": (["--model", corrupt, "--data", photos], "corrupt.keras"),
        "broken archive": (["--model", broken_zip, "--data", photos], "broken.keras"),
        "text file": (["--model", text, "--data", photos], "model.txt"),
    }


def test_bad_inputs_give_one_line_errors(photos, tmp_path, capsys):
    for name, (args, fragment) in _bad_input_cases(photos, tmp_path).items():
        status = evaluate.main([str(a) for a in args])  # a traceback would fail the test here
        captured = capsys.readouterr()
        assert_one_line_error(subprocess.CompletedProcess(args, status, captured.out, captured.err), fragment)


@pytest.mark.slow
def test_bad_inputs_in_a_real_process(photos, tmp_path):
    """The exit status and stderr of the real process: one line, no backend noise, no traceback."""
    cases = _bad_input_cases(photos, tmp_path)
    chosen = [cases["missing folder"], cases["random bytes"]]
    # Started together: each pays the interpreter and backend start-up, which overlap.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    running = [
        subprocess.Popen([sys.executable, "-m", "colorize.cli.evaluate", *map(str, args)], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for args, _ in chosen
    ]
    for process, (args, fragment) in zip(running, chosen):
        stdout, stderr = process.communicate(timeout=300)
        assert_one_line_error(subprocess.CompletedProcess(args, process.returncode, stdout, stderr), fragment)


def test_untrained_classes_come_from_a_classes_table(tmp_path):
    (tmp_path / "val").mkdir()
    (tmp_path / "val" / "classes.tsv").write_text(
        "wnid\tname\tphotos\tin_training_folders\nn01440764\ttench\t2\tyes\nn01484850\tshark\t1\tno\n")
    assert evaluate.untrained_classes([tmp_path / "val", tmp_path / "elsewhere"]) == {"n01484850"}
    assert evaluate.untrained_classes([tmp_path]) == set()


@pytest.mark.slow
def test_a_bundled_model_is_named_by_its_preset(photos, tmp_path):
    """--model simple (as the colorize command takes it) evaluates the bundled simple model."""
    out_json = tmp_path / "results.json"
    result = run_evaluate("--model", "simple", "--data", photos, "--size", SIZE, "--limit", 2, "--json", out_json)
    assert result.returncode == 0, result.stderr
    assert [row["model"] for row in json.loads(out_json.read_text())["results"]][1:] == ["simple"]
