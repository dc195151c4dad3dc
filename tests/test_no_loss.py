"""Nothing a user had is ever lost (issue 21): inputs, other outputs, parallel runs, diverged runs.

One test (or more) per defect of the issue; each failed on the code before the fix.
"""

import itertools
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from conftest import REPO, interruptible, run_script, save_rgb, synthetic_photo
from conftest import call_entry as _call


def _colorize(capsys, *argv):
    """colorize_simple.py in this process (the bundled simple model, compiled copy: no TensorFlow)."""
    from colorize.cli.colorize import colorize_command

    return _call(capsys, lambda a: colorize_command("simple", a), argv)


def _gray(path, seed=0, size=(40, 52)):
    gray = synthetic_photo(*size, seed=seed).mean(-1).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), gray)
    return path


def _pngs(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- 1. inputs never written
def test_overwrite_never_replaces_an_input(tmp_path, capsys, monkeypatch):
    album = tmp_path / "album"
    inputs = [_gray(album / "gray.png"), _gray(album / "sub" / "deep.png", 1), _gray(album / "x.jpg", 2)]
    before = {path: path.read_bytes() for path in inputs}
    monkeypatch.chdir(album)
    status, _, stderr = _colorize(capsys, "gray.png", "-o", ".", "--overwrite")
    assert status == 0, stderr
    assert (album / "gray-1.png").exists()
    status, _, stderr = _colorize(capsys, album, "-o", album, "--overwrite")  # the whole folder onto itself
    assert status == 0, stderr
    link = tmp_path / "link"  # an output folder that is the input folder through a link
    link.symlink_to(album)
    status, _, stderr = _colorize(capsys, album, "-o", link, "--overwrite")
    assert status == 0, stderr
    assert {path: path.read_bytes() for path in inputs} == before
    # --overwrite does replace an earlier output (not an input)
    earlier = (album / "gray-1.png").stat().st_mtime_ns
    time.sleep(0.01)
    _colorize(capsys, album / "gray.png", "-o", album, "--overwrite")
    assert (album / "gray-1.png").stat().st_mtime_ns != earlier


# ----------------------------------------------------------------------------- 2. one namespace
def test_compare_figures_and_colorized_names_never_collide(tmp_path, capsys):
    _gray(tmp_path / "x.png", 0)
    _gray(tmp_path / "x_compare.jpg", 1, size=(36, 44))
    out = tmp_path / "out"
    status, _, stderr = _colorize(capsys, tmp_path / "x.png", tmp_path / "x_compare.jpg", "--compare", "-o", out)
    assert status == 0, stderr
    names = _pngs(out)
    assert len(names) == 4, names  # two colorized PNGs, two figures, none lost
    shapes = sorted(cv2.imread(str(out / name)).shape[:2] for name in names)
    assert (36, 44) in shapes and (40, 52) in shapes  # both colorized photos survived


# ----------------------------------------------------------------------------- 3. output inside input
def test_output_folder_inside_the_input_folder_is_not_colorized_again(tmp_path, capsys, monkeypatch):
    album = tmp_path / "album"
    _gray(album / "a.png")
    _gray(album / "sub" / "b.png", 1)
    monkeypatch.chdir(album)
    for _ in range(2):
        status, _, stderr = _colorize(capsys, ".")
        assert status == 0, stderr
    assert _pngs(album / "colorized") == ["a-1.png", "a.png", "sub/b-1.png", "sub/b.png"]


def test_a_folder_colorized_into_itself_skips_the_earlier_results(tmp_path, capsys, monkeypatch):
    """DIR -o DIR twice: the first run's PNGs (tagged as colorize's) are not colorized again; the user's
    own PNG is, and a result named on its own is too."""
    from colorize.io import made_by_colorize

    album = tmp_path / "album"
    _gray(album / "a.jpg")
    _gray(album / "mine.png", 1)
    monkeypatch.chdir(tmp_path)
    status, _, stderr = _colorize(capsys, "album", "-o", "album")
    assert status == 0, stderr
    assert made_by_colorize(album / "a.png") and made_by_colorize(album / "mine-1.png")
    assert not made_by_colorize(album / "mine.png") and not made_by_colorize(album / "a.jpg")
    status, _, stderr = _colorize(capsys, "album", "-o", "album")
    assert status == 0, stderr
    assert "skipped 2 earlier colorize result(s)" in stderr
    # Only the user's two photos were colorized again (a-1.png, mine-2.png); no a-1-1.png or mine-1-1.png.
    assert _pngs(album) == ["a-1.png", "a.jpg", "a.png", "mine-1.png", "mine-2.png", "mine.png"]
    status, _, stderr = _colorize(capsys, "album/a.png", "-o", "album")
    assert status == 0, stderr
    assert "a-2.png" in _pngs(album)


# ----------------------------------------------------------------------------- 4. parallel runs
def test_an_output_name_taken_meanwhile_gets_the_next_free_one(tmp_path):
    from pathlib import Path

    from colorize.cli.colorize import _finish, _Targets
    from colorize.predict.pipeline import lightness_of

    image = synthetic_photo(16, 16)
    targets = _Targets(tmp_path, overwrite=False)
    planned = targets.claim(Path("x.png"), compare=False)
    planned[0].write_bytes(b"another run's result")  # another process, between the plan and the write
    written = _finish(image, lightness_of(image), np.zeros((2, 2, 2), np.float32), Path("x.png"), planned, targets)
    assert written.name == "x-1.png" and planned[0].read_bytes() == b"another run's result"


@pytest.mark.slow
def test_parallel_runs_into_one_folder_keep_every_result(tmp_path):
    photos = tmp_path / "photos"
    for index in range(40):
        _gray(photos / f"p{index:02d}.png", index, size=(24, 24))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, str(REPO / "colorize_simple.py"), photos, "-o", tmp_path / "out", "-q"]
    runs = [subprocess.Popen(list(map(str, command)), env=env, stderr=subprocess.PIPE) for _ in range(3)]
    for run in runs:
        assert run.wait(timeout=300) == 0, run.stderr.read()
    assert len(_pngs(tmp_path / "out")) == 120


# ----------------------------------------------------------------------------- 5. diverged run
@pytest.mark.slow
def test_a_diverged_run_names_a_command_that_works(tmp_path):
    photos = tmp_path / "photos"
    for index in range(12):
        save_rgb(photos / f"p{index:02d}.png", synthetic_photo(24, 24, seed=index))
    output = tmp_path / "run" / "m.keras"
    common = ["--data", photos, "--size", "16", "--width", "0.125", "--batch-size", "4", "--epochs", "2"]
    result = run_script("train_simple.py", *common, "--lr", "1e6", "--output", output)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    error = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error) == 1 and "diverged" in error[0], result.stderr[-2000:]
    command = shlex.split(error[0].rsplit(": ", 1)[1])
    assert command[0] == "train_simple.py" and "--lr" in command
    again = run_script(*command)  # exactly what the message says
    assert again.returncode == 0, again.stderr[-2000:]
    assert output.exists()


# ----------------------------------------------------------------------------- 6. tracebacks
def test_init_with_a_compiled_file_names_the_keras_beside_it(photo_folder, tmp_path, capsys):
    from colorize.cli.train import train_command
    from colorize.models.presets import bundled_model

    lite = bundled_model("simple").with_suffix(".lite")
    status, _, stderr = _call(capsys, lambda a: train_command("simple", a),
                              ["--data", photo_folder, "--init", lite, "--output", tmp_path / "m.keras"])
    assert status == 2 and "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert ".lite file cannot seed training" in stderr and str(lite.with_suffix(".keras")) in stderr


def test_train_output_under_proc_is_refused_before_the_data(photo_folder, capsys, monkeypatch):
    from colorize.cli import train

    monkeypatch.setattr(train, "_train", lambda *a, **k: pytest.fail("the data was loaded"))
    status, _, stderr = _call(capsys, lambda a: train.train_command("simple", a),
                              ["--data", photo_folder, "--output", "/proc/m.keras"])
    assert status == 2 and "--output /proc/m.keras" in stderr, stderr


@pytest.mark.slow
def test_ctrl_c_while_colorizing_leaves_only_complete_files(tmp_path):
    photos = tmp_path / "photos"
    for index in range(150):
        _gray(photos / f"p{index:03d}.png", index, size=(300, 400))
    out = tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.Popen([sys.executable, str(REPO / "colorize_simple.py"), str(photos), "-o", str(out), "-q"],
                           env=env, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    deadline = time.monotonic() + 120
    while not (out.exists() and len(list(out.glob("*.png"))) >= 3) and time.monotonic() < deadline:
        time.sleep(0.02)
    run.send_signal(signal.SIGINT)
    stderr = run.communicate(timeout=120)[1]
    assert run.returncode == 130 and "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted:" in lines[0], stderr
    written = int(lines[0].split("interrupted: ")[1].split()[0])
    files = sorted(out.iterdir())
    assert 3 <= written < 150 and len(files) == written, (written, files)  # no temporary file left either
    assert all(cv2.imread(str(path)) is not None for path in files)


# ----------------------------------------------------------------------------- 7. reader notes
def test_the_readers_notes_are_printed(tmp_path, capsys):
    rgba = np.zeros((40, 52, 4), np.uint8)
    rgba[..., :3] = 90
    rgba[:, :20, 3] = 255  # partly transparent
    assert cv2.imwrite(str(tmp_path / "alpha.png"), rgba)
    status, _, stderr = _colorize(capsys, tmp_path / "alpha.png", "-o", tmp_path / "out")
    assert status == 0 and "alpha.png: transparent areas were composited onto white" in stderr, stderr
    status, _, stderr = _colorize(capsys, tmp_path / "alpha.png", "-o", tmp_path / "out", "-q")
    assert status == 0 and stderr == ""


# ----------------------------------------------------------------------------- 8. options with --resume
def _interrupted_run(tmp_path, **settings):
    """The files a run killed after its second epoch leaves (settings and a backup record)."""
    from colorize.train import runfiles

    output = tmp_path / "m.keras"
    files = runfiles.run_files(output)
    files["backup"].mkdir(parents=True)
    (files["backup"] / "epoch-000002.json").write_text("{}")
    base = {"family": "simple", "data": ["cifar10"], "size": 32, "batch_size": 4, "lr": 0.001, "seed": 0,
            "no_augment": False, "val_fraction": 0.1, "test_fraction": 0.1, "init": None, "no_cache": False,
            "epochs": 2, "width": 0.125}
    files["settings"].write_text(json.dumps({**base, **settings}))
    return output


@pytest.mark.parametrize("argv, epochs", [([], 2), (["--epochs", "30"], 30), (["--epochs", "5"], 5)])
def test_resume_takes_the_epochs_given(argv, epochs, tmp_path, capsys, monkeypatch):
    from colorize.cli import train

    seen = {}
    monkeypatch.setattr(train, "_train", lambda prog, family, args, *rest: seen.update(vars(args)) or 0)
    output = _interrupted_run(tmp_path)
    status, _, stderr = _call(capsys, lambda a: train.train_command("simple", a),
                              ["--output", output, "--resume", *argv])
    assert status == 0, stderr
    assert seen["epochs"] == epochs and seen["width"] == 0.125 and seen["size"] == 32


@pytest.mark.parametrize("argv, option", [(["--lr", "0.5"], "--lr"), (["--size", "64"], "--size"),
                                          (["--width", "0.25"], "--width"), (["--no-augment"], "--no-augment")])
def test_resume_refuses_a_fixed_option_with_another_value(argv, option, tmp_path, capsys, monkeypatch):
    from colorize.cli import train

    monkeypatch.setattr(train, "_train", lambda *a, **k: pytest.fail("trained with ignored options"))
    output = _interrupted_run(tmp_path)
    status, _, stderr = _call(capsys, lambda a: train.train_command("simple", a),
                              ["--output", output, "--resume", *argv])
    assert status == 2 and len(stderr.strip().splitlines()) == 1 and option in stderr, stderr
    # the same value as the run's is fine
    monkeypatch.setattr(train, "_train", lambda *a, **k: 0)
    assert _call(capsys, lambda a: train.train_command("simple", a),
                 ["--output", output, "--resume", "--lr", "0.001"])[0] == 0


# ----------------------------------------------------------------------------- 9. images/s
def test_images_per_second_counts_the_images_in_each_batch(monkeypatch):
    from colorize.train import callbacks

    clock = itertools.count()  # each reading one second later
    monkeypatch.setattr(callbacks.time, "perf_counter", lambda: float(next(clock)))
    logger = callbacks.ThroughputLogger(batch_size=32, images=5)  # a data set smaller than a batch
    logger.on_epoch_begin(0)
    logger.on_train_batch_end(0)
    logger.on_epoch_end(0)
    assert logger.images_per_second == [5.0]
    logger = callbacks.ThroughputLogger(batch_size=4, images=10)  # 4 + 4 + 2 images in 3 s
    logger.on_epoch_begin(0)
    for batch in range(3):
        logger.on_train_batch_end(batch)
    logger.on_epoch_end(0)
    assert logger.images_per_second == [10 / 3]


# ----------------------------------------------------------------------------- 10. smaller ones
@pytest.mark.parametrize("output", ["/proc/colorized", "/sys/colorized", ""])
def test_colorize_refuses_unusable_output_folders_up_front(output, tmp_path, capsys):
    _gray(tmp_path / "a.png")
    status, stdout, stderr = _colorize(capsys, tmp_path / "a.png", "-o", output)
    assert status == 2 and "--output" in stderr and len(stderr.strip().splitlines()) == 1, stderr
    assert stdout == "" and not (tmp_path / "a-1.png").exists() and not os.path.exists("a.png")


def test_a_read_only_file_system_is_named_so(tmp_path, monkeypatch):
    from colorize import files

    real = os.statvfs
    monkeypatch.setattr(files.os, "statvfs", lambda path: type("V", (), {"f_flag": real(path).f_flag | os.ST_RDONLY}))
    assert "read-only file system" in files.unwritable_folder_reason(tmp_path / "new")


def test_init_takes_the_architecture_from_its_file(photo_folder, tmp_path, capsys, monkeypatch):
    from colorize.cli import train
    from colorize.models.presets import bundled_model

    seen = {}
    monkeypatch.setattr(train, "_train", lambda prog, family, args, *rest: seen.update(vars(args)) or 0)
    common = ["--data", photo_folder, "--init", bundled_model("simple"), "--output", tmp_path / "m.keras"]
    status, _, stderr = _call(capsys, lambda a: train.train_command("simple", a), common)
    assert status == 0 and seen["width"] == 0.5, stderr  # the bundled simple model's width
    status, _, stderr = _call(capsys, lambda a: train.train_command("simple", a), common + ["--width", "0.25"])
    assert status == 2 and "--width 0.5" in stderr and len(stderr.strip().splitlines()) == 1, stderr


def test_help_says_model_takes_lite_files(capsys):
    from colorize.cli.colorize import colorize_command

    with pytest.raises(SystemExit):
        colorize_command(None, ["--help"])
    assert ".lite" in " ".join(capsys.readouterr().out.split()).split("--model FILE")[-1].split("--size")[0]


def test_library_call_accepts_sensible_arrays_and_refuses_the_rest():
    from colorize import colorize_image, load_colorizer
    from colorize.errors import ColorizeError
    from colorize.models.presets import bundled_model

    colorizer = load_colorizer(bundled_model("simple").with_suffix(".lite"))
    gray8 = synthetic_photo(24, 32).mean(-1).astype(np.uint8)
    expected = colorize_image(gray8, colorizer)
    for same in (gray8.astype(np.uint16) * 257, gray8.tolist(), gray8[..., None]):
        result = colorize_image(same, colorizer)
        assert result.shape == (24, 32, 3) and np.abs(result.astype(int) - expected).max() <= 1
    for bad in (gray8 / 255.0, gray8 > 0, gray8.astype(int) * 4, np.zeros((4, 24, 32)), [[1, 2], [3]]):
        with pytest.raises(ColorizeError):
            colorize_image(bad, colorizer)
