"""End-to-end runs of train_simple.py / train_complex.py on a tiny folder."""

import csv
import json

import pytest

from conftest import run_script


@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_help_shows_options_and_defaults(kind):
    result = run_script(f"train_{kind}.py", "--help")
    assert result.returncode == 0
    for option in ("--data", "--size", "--epochs", "--batch-size", "--lr", "--output", "--seed", "--no-augment", "--resume"):
        assert option in result.stdout
    assert "default" in result.stdout
    if kind == "complex":
        for option in ("--lam", "--plain-ce", "--width", "--middle-blocks", "--weight-decay"):
            assert option in result.stdout


def test_colorize_train_lists_the_families_and_their_options(capsys):
    from colorize import models
    from colorize.cli.train import train_command

    with pytest.raises(SystemExit) as exit_info:
        train_command(None, ["--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and all(name in out for name in models.names())
    with pytest.raises(SystemExit):
        train_command(None, ["zhang", "--help"])
    assert "--middle-blocks" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        train_command(None, ["no-such-family"])
    assert exit_info.value.code == 2 and "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        train_command("complex", ["--arch", "zhang", "--help"])
    assert "--arch" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_training_run_writes_model_log_and_plot_and_refuses_to_clobber(kind, photo_folder, tmp_path):
    output = tmp_path / "run" / f"{kind}.keras"
    args = ["--data", photo_folder, "--size", "32", "--epochs", "2", "--batch-size", "4", "--width", "0.125", "--output", output]
    if kind == "complex":
        args += ["--middle-blocks", "1"]
    result = run_script(f"train_{kind}.py", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "skipped 2 of 14" in result.stderr  # gray + broken file, one warning line
    assert output.exists()
    with open(tmp_path / "run" / f"{kind}_log.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["epoch"] for row in rows] == ["0", "1"] and all(float(r["val_loss"]) > 0 for r in rows)
    assert (tmp_path / "run" / f"{kind}_loss.png").stat().st_size > 1000
    settings = json.loads((tmp_path / "run" / f"{kind}_settings.json").read_text())
    assert settings["size"] == 32 and settings["width"] == 0.125
    if kind == "complex":
        from colorize.quantize import ab_bins

        assert len(settings["class_prior"]) == len(ab_bins()) and abs(sum(settings["class_prior"]) - 1) < 1e-4
    import keras

    import colorize.models.colorizer  # noqa: F401  (registers the saved classes)

    model = keras.saving.load_model(output)
    assert model.family == {"simple": "simple", "complex": "zhang"}[kind] and model.training_size == 32
    assert model.options["width"] == 0.125 and not model.compiled  # a colorizer, no optimizer state
    model_bytes = output.read_bytes()

    again = run_script(f"train_{kind}.py", *args)
    assert again.returncode == 2 and "--resume" in again.stderr and "Traceback" not in again.stderr
    resumed = run_script(f"train_{kind}.py", "--output", output, "--resume")
    assert resumed.returncode == 2 and "already finished" in resumed.stderr
    assert output.read_bytes() == model_bytes


@pytest.mark.slow
def test_missing_data_folder_is_a_one_line_error(tmp_path):
    result = run_script("train_simple.py", "--data", tmp_path / "nope", "--output", tmp_path / "m.keras")
    assert result.returncode == 2 and "nope: no such folder" in result.stderr and "Traceback" not in result.stderr


def test_init_from_a_model_of_another_kind_is_a_one_line_error(photo_folder, tiny_models, tmp_path, capsys):
    from colorize.cli.train import train_command

    status = train_command(
        "simple",
        ["--data", str(photo_folder), "--size", "32", "--width", "0.125", "--epochs", "1",
         "--init", str(tiny_models["complex"]), "--output", str(tmp_path / "m.keras")],
    )
    assert status == 2 and "--init" in capsys.readouterr().err and not (tmp_path / "m.keras").exists()


@pytest.mark.slow
def test_init_fine_tunes_from_given_weights(photo_folder, tiny_models, tmp_path):
    import keras
    import numpy as np

    output = tmp_path / "ft.keras"
    from colorize.cli.train import train_command

    status = train_command(
        "simple",
        ["--data", str(photo_folder), "--size", "32", "--width", "0.125", "--epochs", "1", "--lr", "1e-9",
         "--init", str(tiny_models["simple"]), "--output", str(output)],
    )
    assert status == 0
    start = keras.saving.load_model(tiny_models["simple"]).get_weights()
    tuned = keras.saving.load_model(output).get_weights()
    # A tiny learning rate: the fine-tuned weights are still (almost exactly) the initial ones.
    assert all(np.allclose(a, b, atol=1e-4) for a, b in zip(start, tuned))


@pytest.mark.parametrize(
    "args,message",
    [
        (["--lam", "0"], "--lam"),
        (["--batch-size", "0"], "--batch-size"),
        (["--epochs", "0"], "--epochs"),
        (["--data", "cifar10", "somewhere"], "cifar10"),
        (["--size", "30"], "multiple of 8"),
    ],
)
def test_bad_training_options_are_usage_errors(args, message, capsys):
    from colorize.cli.train import train_command

    with pytest.raises(SystemExit) as exit_info:
        train_command("complex", args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_resume_without_settings_is_a_one_line_error(tmp_path, capsys):
    from colorize.cli.train import train_command

    (tmp_path / "m.keras.backup").mkdir()
    status = train_command("simple", ["--output", str(tmp_path / "m.keras"), "--resume"])
    assert status == 2 and "cannot read the run's settings" in capsys.readouterr().err
