"""A battery of bad inputs to the colorize and train commands: each gets a one-line answer, never a traceback.

Every case states the exit status (2: usage errors, unusable models or output
folders, before anything is written; 1: some inputs failed, the others were
done; 0: handled), the fragments its one error line must contain (the file or
option, and the reason), and that the output folder holds nothing half
written, its existing files untouched, and the good files of the same run.
Most run in this process (``colorize_command`` / ``train_command``); a few run
as real processes, for what only a process shows (closed stderr, a full stdout).
"""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from conftest import REPO, make_tiny_colorizer, run_script, save_rgb, synthetic_photo
from conftest import call_entry as _call

KEEP = b"an earlier output, never to be touched"


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory):
    """Model files that load but must not be used: NaN weights; finite weights whose colours overflow to inf."""
    import keras

    folder = tmp_path_factory.mktemp("bad_models")
    nan = make_tiny_colorizer("simple")
    nan.set_weights([np.full_like(w, np.nan) if w.ndim > 1 else w for w in nan.get_weights()])
    nan.save(folder / "nan.keras")
    overflow = make_tiny_colorizer("simple")
    overflow.set_weights([np.full_like(w, 1e30) if w.ndim > 1 else w for w in overflow.get_weights()])
    overflow.save(folder / "overflow.keras")
    keras.backend.clear_session()
    return {"nan": folder / "nan.keras", "overflow": folder / "overflow.keras"}




def _files(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# ----------------------------------------------------------------------------- colorizing
# name -> (script, status, error-line fragments; the case builder below makes the inputs)
COLORIZE_CASES = {
    "missing file": ("simple", 1, ["nope.jpg", "no such file"]),
    "folder with no images": ("simple", 1, ["empty_folder", "no image or video files"]),
    "text file named .jpg": ("simple", 1, ["notes.jpg", "not an image"]),
    "empty file": ("simple", 1, ["empty.jpg", "empty file"]),
    "truncated JPEG": ("simple", 1, ["truncated.jpg", "truncated"]),
    "tiny image": ("simple", 1, ["tiny.png", "too small"]),
    "huge-header image": ("simple", 1, ["huge.png", "megapixel limit"]),
    "GIF": ("simple", 1, ["anim.gif", "unsupported image format GIF"]),
    "FIFO": ("simple", 1, ["pipe.jpg", "named pipe"]),
    "broken symbolic link": ("simple", 1, ["dangling.jpg", "broken symbolic link"]),
    "model giving NaN colours": ("simple", 1, ["good.jpg", "not finite"]),
    "corrupt model": ("simple", 2, ["corrupt.keras", "not a Keras model"]),
    "zip-broken model": ("simple", 2, ["zip.keras", "corrupt"]),
    "text model": ("simple", 2, ["model.txt", "not a Keras model"]),
    "wrong-family model": ("complex", 2, ["simple.keras", "simple model", "colorize_simple.py"]),
    "NaN-weights model": ("simple", 2, ["nan.keras", "not finite"]),
    "missing model": ("simple", 2, ["missing.keras", "not found"]),
    "model path is a folder": ("simple", 2, ["folder.keras", "not a Keras model"]),
    "-t nan": ("complex", 2, ["--temperature", "nan"]),
    "-t inf": ("complex", 2, ["--temperature", "inf"]),
    "-t 0": ("complex", 2, ["--temperature", "between 0.01 and 10"]),
    "-t -1": ("complex", 2, ["--temperature", "-1"]),
    "-t 1e9": ("complex", 2, ["--temperature", "1e9"]),
    "-t abc": ("complex", 2, ["--temperature", "not a number"]),
    "--size 0": ("simple", 2, ["--size", "multiple of 8"]),
    "--size 30": ("simple", 2, ["--size", "multiple of 8", "30"]),
    "--size 100000": ("simple", 2, ["--size", "to 2048", "100000"]),
    "--size 4096": ("complex", 2, ["--size", "4096"]),
    "--size -8": ("simple", 2, ["--size", "-8"]),
    "--size abc": ("simple", 2, ["--size", "not a whole number"]),
    "unknown option": ("simple", 2, ["unrecognized arguments", "--bogus"]),
    "output is an existing file": ("simple", 2, ["--output", "not a folder"]),
    "output folder under a file": ("simple", 2, ["--output", "is a file, not a folder"]),
    "duplicate inputs": ("simple", 0, []),
    "same stem in two folders": ("simple", 0, []),
    "unicode file name": ("simple", 0, []),
    "path with spaces": ("simple", 0, []),
}


def _colorize_case(name, tmp, models, bad_models):
    """(argv, written: output names expected besides the kept file, out folder) for a case."""
    import cv2
    from PIL import Image

    source = tmp / "in"
    good = save_rgb(source / "good.jpg", synthetic_photo(40, 48, seed=1))
    out = tmp / "out"
    model = ["-m", models["simple"]]
    usage = [good, "-o", out, *model]
    bad = None
    if name == "missing file":
        bad = source / "nope.jpg"
    elif name == "folder with no images":
        bad = source / "empty_folder"
        bad.mkdir()
        (bad / "readme.txt").write_text("no photos here")
    elif name == "text file named .jpg":
        bad = source / "notes.jpg"
        bad.write_text("hello, I am not an image")
    elif name == "empty file":
        bad = source / "empty.jpg"
        bad.write_bytes(b"")
    elif name == "truncated JPEG":
        bad = source / "truncated.jpg"
        encoded = cv2.imencode(".jpg", synthetic_photo(64, 64))[1].tobytes()
        bad.write_bytes(encoded[: len(encoded) // 2])
    elif name == "tiny image":
        bad = save_rgb(source / "tiny.png", synthetic_photo(4, 4))
    elif name == "huge-header image":
        bad = source / "huge.png"
        Image.new("L", (20000, 6000)).save(bad)  # 120 MP of zeros: a small file, refused on its header
    elif name == "GIF":
        bad = source / "anim.gif"
        Image.new("RGB", (32, 32), (200, 10, 10)).save(bad)
    elif name == "FIFO":
        bad = source / "pipe.jpg"
        os.mkfifo(bad)  # never opened: reading it would block for ever
    elif name == "broken symbolic link":
        bad = source / "dangling.jpg"
        bad.symlink_to(source / "gone.jpg")
    elif name == "model giving NaN colours":
        return [good, "-o", out, "-m", bad_models["overflow"]], [], out
    elif name == "corrupt model":
        path = tmp / "corrupt.keras"
        path.write_bytes(np.random.default_rng(0).bytes(2000))
        return [good, "-o", out, "-m", path], [], out
    elif name == "zip-broken model":
        path = tmp / "zip.keras"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{not json")
        return [good, "-o", out, "-m", path], [], out
    elif name == "text model":
        path = tmp / "model.txt"
        path.write_text("hi")
        return [good, "-o", out, "-m", path], [], out
    elif name == "wrong-family model":
        return [good, "-o", out, "-m", models["simple"]], [], out
    elif name == "NaN-weights model":
        return [good, "-o", out, "-m", bad_models["nan"]], [], out
    elif name == "missing model":
        return [good, "-o", out, "-m", tmp / "missing.keras"], [], out
    elif name == "model path is a folder":
        (tmp / "folder.keras").mkdir()
        return [good, "-o", out, "-m", tmp / "folder.keras"], [], out
    elif name.startswith("-t "):
        return [*usage, "-t", name[3:]], [], out
    elif name.startswith("--size "):
        return [*usage, "--size", name[7:]], [], out
    elif name == "unknown option":
        return [*usage, "--bogus"], [], out
    elif name == "output is an existing file":
        target = tmp / "taken.png"
        target.write_bytes(KEEP)
        return [good, "-o", target, *model], [], target
    elif name == "output folder under a file":
        (tmp / "file.txt").write_bytes(KEEP)
        return [good, "-o", tmp / "file.txt" / "sub", *model], [], tmp / "file.txt"
    elif name == "duplicate inputs":
        return [good, good, source, "-o", out, *model], ["good.png"], out
    elif name == "same stem in two folders":
        first = save_rgb(tmp / "a" / "x.jpg", synthetic_photo(32, 40, seed=2))
        second = save_rgb(tmp / "b" / "x.jpg", synthetic_photo(32, 40, seed=3))
        return [first, second, "-o", out, *model], ["x-1.png", "x.png"], out
    elif name == "unicode file name":
        named = save_rgb(source / "фото 日本 ü.jpg", synthetic_photo(32, 40, seed=4))
        return [named, "-o", out, *model], ["фото 日本 ü.png"], out
    elif name == "path with spaces":
        spaced = save_rgb(tmp / "my photos" / "a photo.jpg", synthetic_photo(32, 40, seed=5))
        return [spaced, "-o", tmp / "my outputs", *model], ["a photo.png"], tmp / "my outputs"
    return [bad, good, "-o", out, *model], ["good.png"], out


@pytest.mark.parametrize("name", list(COLORIZE_CASES))
def test_colorize_bad_input(name, tiny_models, bad_models, tmp_path, capsys):
    from colorize.cli.colorize import colorize_command

    script, expected, fragments = COLORIZE_CASES[name]
    argv, written, out = _colorize_case(name, tmp_path, tiny_models, bad_models)
    if out.is_dir() or not out.exists():
        out.mkdir(parents=True, exist_ok=True)
        (out / "keep.png").write_bytes(KEEP)
    before = _files(out) if out.is_dir() else None
    status, stdout, stderr = _call(capsys, lambda a: colorize_command(script, a), argv)
    assert status == expected, (status, stderr)
    assert "Traceback" not in stderr + stdout
    errors = [line for line in stderr.splitlines() if "error:" in line]
    if fragments:
        assert len(errors) == 1, stderr  # one line, naming the file or option and the reason
        assert all(fragment in errors[0] for fragment in fragments), (fragments, errors[0])
    else:
        assert not errors, stderr
    if out.is_dir():
        assert (out / "keep.png").read_bytes() == KEEP  # existing outputs untouched
        assert _files(out) == sorted(before + written), _files(out)  # the good ones, nothing half-written
    else:
        assert out.read_bytes() == KEEP
    if name == "duplicate inputs":
        assert "given more than once" in stderr


def test_colorize_help_texts(capsys):
    from colorize.cli.colorize import colorize_command

    for script in ("simple", "complex", None):
        status, stdout, stderr = _call(capsys, lambda a: colorize_command(script, a), ["--help"])
        assert status == 0 and not stderr
        text = " ".join(stdout.split())
        mirror = text[text.rindex("--no-mirror") :].split("--upsample")[0]  # its entry, not the usage line
        assert "averaged" in mirror and "(default" not in mirror, mirror
        assert "SHORTER side" in text[text.rindex("--size SIZE") :][:200]


def test_compose_in_strips_is_bit_identical_and_refuses_nan():
    """compose works in strips of rows; forced to tiny strips it gives exactly the one-pass result."""
    import cv2

    from colorize import color
    from colorize.predict.pipeline import compose

    rng = np.random.default_rng(0)
    for (h, w), (height, width) in [((8, 10), (75, 130)), ((16, 16), (61, 47)), ((3, 40), (200, 9)), ((1, 1), (8, 8))]:
        ab = (rng.standard_normal((h, w, 2)) * 60).astype(np.float32)
        lightness = (rng.random((height, width)) * 100).astype(np.float32)
        one_pass = color.l_ab_to_rgb(lightness, cv2.resize(ab, (width, height), interpolation=cv2.INTER_LINEAR))
        for strip in (1, width, 3 * width + 1, None):
            np.testing.assert_array_equal(compose(lightness, ab, strip_pixels=strip), one_pass)
    ab[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        compose(lightness, ab)


# ----------------------------------------------------------------------------- colorizing as real processes


def _run_shell(command, cwd):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    return subprocess.run(["bash", "-c", command], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize("redirect", ["2>&-", ">/dev/full"])
def test_closed_stderr_or_full_stdout_still_colorizes(redirect, tiny_models, tmp_path):
    """Messages that cannot be shown are dropped; the images are written and the status is the usual one
    (here 1: one input is not an image), with no traceback."""
    save_rgb(tmp_path / "good.jpg", synthetic_photo(40, 48))
    (tmp_path / "bad.jpg").write_text("not an image")
    script = REPO / "colorize_simple.py"
    model = tiny_models["simple"]
    command = f"'{sys.executable}' '{script}' good.jpg bad.jpg -o out -m '{model}' {redirect}; echo \"status=$?\" >&3"
    result = _run_shell(f"exec 3>status.txt; {command}", tmp_path)
    assert (tmp_path / "status.txt").read_text().strip() == "status=1", result.stderr
    assert _files(tmp_path / "out") == ["good.png"]
    if redirect == "2>&-":
        assert "colorized 1 image(s) into out/, 1 failed" in result.stdout  # it ran to the end
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    if redirect == ">/dev/full":
        assert "bad.jpg" in result.stderr and "cannot write to standard output" in result.stderr


@pytest.mark.slow
def test_nan_model_in_a_real_process_is_one_line(bad_models, tmp_path):
    save_rgb(tmp_path / "x.jpg", synthetic_photo(32, 32))
    result = run_script("colorize_simple.py", tmp_path / "x.jpg", "-o", tmp_path / "out", "-m", bad_models["nan"])
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "not finite" in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- training
# name -> (argv, status, fragments): usage errors and errors found before any training
TRAIN_CASES = {
    "--lr nan": (["--lr", "nan"], 2, ["--lr", "finite"]),
    "--lr inf": (["--lr", "inf"], 2, ["--lr", "finite"]),
    "--lr 0": (["--lr", "0"], 2, ["--lr", "greater than 0"]),
    "--lr -1": (["--lr", "-1"], 2, ["--lr", "greater than 0"]),
    "--weight-decay nan": (["--weight-decay", "nan"], 2, ["--weight-decay", "finite"]),
    "--weight-decay -1": (["--weight-decay", "-1"], 2, ["--weight-decay", "negative"]),
    "--lam 0": (["--lam", "0"], 2, ["--lam", "(0, 1]"]),
    "--lam 2": (["--lam", "2"], 2, ["--lam", "(0, 1]"]),
    "--lam nan": (["--lam", "nan"], 2, ["--lam", "finite"]),
    "--width 0": (["--width", "0"], 2, ["--width", "greater than 0"]),
    "--width -inf": (["--width=-inf"], 2, ["--width", "finite"]),
    "--min-delta 1e999": (["--min-delta", "1e999"], 2, ["--min-delta", "finite"]),
    "--val-fraction nan": (["--val-fraction", "nan"], 2, ["--val-fraction", "finite"]),
    "--epochs 0": (["--epochs", "0"], 2, ["--epochs", "at least 1"]),
    "--batch-size 0": (["--batch-size", "0"], 2, ["--batch-size", "at least 1"]),
    "--size 30": (["--size", "30"], 2, ["--size", "multiple of 8"]),
    "--size 0": (["--size", "0"], 2, ["--size", "multiple of 8"]),
    "--size 4096": (["--size", "4096"], 2, ["--size", "4096"]),
    "--data missing": (["--data", "{tmp}/nope"], 2, ["nope", "no such folder"]),
    "--data empty folder": (["--data", "{tmp}/empty"], 2, ["empty", "not enough colour images"]),
    "--data cifar10 + folder": (["--data", "cifar10", "{photos}"], 2, ["--data cifar10", "folders"]),
    "--output without .keras": (["--output", "{tmp}/model.h5"], 2, ["--output", ".keras"]),
    "--output under a file": (["--output", "{tmp}/file.txt/sub/m.keras"], 2, ["--output", "file.txt", "not a folder"]),
    "--output is a folder": (["--output", "{tmp}/folder.keras"], 2, ["--output", "folder.keras", "is a folder"]),
    "--resume with nothing to resume": (["--resume"], 2, ["nothing to resume", "never finished an epoch"]),
    "--init missing": (["--init", "{tmp}/none.keras"], 2, ["--init", "none.keras", "not found"]),
    "--init wrong family": (["--init", "{complex}"], 2, ["--init", "zhang model"]),
}


@pytest.mark.parametrize("name", list(TRAIN_CASES))
def test_train_bad_input(name, photo_folder, tiny_models, tmp_path, capsys, monkeypatch):
    from colorize.train import photos as streaming
    from colorize.cli.train import train_command

    argv, expected, fragments = TRAIN_CASES[name]
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_bytes(KEEP)
    (tmp_path / "folder.keras").mkdir()
    values = {"tmp": tmp_path, "photos": photo_folder, "complex": tiny_models["complex"]}
    argv = [a.format(**values) for a in argv]
    if "--output" not in argv:
        argv += ["--output", str(tmp_path / "run" / "m.keras")]
    if "--data" not in argv:
        argv += ["--data", str(photo_folder)]
    loaded, load_photos = [], streaming.load_training_photos
    monkeypatch.setattr(streaming, "load_training_photos", lambda *a, **k: loaded.append(a) or load_photos(*a, **k))
    script = "complex" if name.startswith(("--lam", "--weight-decay")) else "simple"
    argv += ["--size", "16"] * ("--size" not in argv)
    status, stdout, stderr = _call(capsys, lambda a: train_command(script, a), argv)
    if name == "--data empty folder":  # found by loading the (empty) data: allowed here
        assert loaded
    else:
        assert not loaded  # refused before the data is loaded
    assert status == expected, (status, stderr)
    assert "Traceback" not in stderr + stdout
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and all(fragment in errors[0] for fragment in fragments), (fragments, stderr)
    assert not (tmp_path / "run").exists()  # nothing written
    assert (tmp_path / "file.txt").read_bytes() == KEEP


def test_train_output_in_a_read_only_folder(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders (covered by --output under a file)")
    from colorize.cli.train import train_command

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        status, _, stderr = _call(capsys, lambda a: train_command("simple", a), ["--output", folder / "m.keras"])
    finally:
        folder.chmod(0o700)
    assert status == 2 and "permission denied" in stderr


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`compile\\(\\)` was not called")  # the eager-steps patch below
def test_train_resume_with_a_damaged_backup_and_few_images_that_diverge(tmp_path, capsys, monkeypatch):
    """Two real tiny runs. (1) The newest backup is damaged: one warning, the run resumes from the previous
    epoch and finishes. (2) Three photos (2 train / 1 val) and a learning rate that blows up: one warning
    about too few images, then one error line saying it diverged and which epoch's model was kept."""
    import keras

    from colorize.train import callbacks

    from colorize.train import runfiles
    from colorize.predict.engine import load_colorizer
    from colorize.cli.train import train_command

    compile_model = keras.Model.compile
    # Eager steps: a few seconds of graph tracing per run saved; the files written are the same.
    monkeypatch.setattr(
        keras.Model, "compile", lambda self, *a, **k: compile_model(self, *a, **{**k, "run_eagerly": True})
    )
    photos = tmp_path / "photos"
    for index in range(12):
        save_rgb(photos / f"p{index:02d}.png", synthetic_photo(24, 24, seed=index))
    output = tmp_path / "run" / "m.keras"
    common = ["--data", photos, "--size", "16", "--width", "0.125", "--batch-size", "4", "--no-augment",
              "--val-fraction", "0.25", "--output", output]
    # As if killed just after the last commit of a 2-epoch run, before the backup is deleted.
    with monkeypatch.context() as patch:
        patch.setattr(callbacks.EpochBackup, "on_train_end", lambda self, logs=None: None)
        status, _, stderr = _call(capsys, lambda a: train_command("simple", a), common + ["--epochs", "3"])
    assert status == 0, stderr
    files = runfiles.run_files(output)
    assert sorted(p.name for p in files["backup"].iterdir()) == [
        "epoch-000002.json", "epoch-000002.weights.h5", "epoch-000003.json", "epoch-000003.weights.h5"
    ]  # two generations
    newest = files["backup"] / "epoch-000003.weights.h5"
    newest.write_bytes(newest.read_bytes()[:-100])  # damaged (e.g. half-copied from Drive)
    status, stdout, stderr = _call(capsys, lambda a: train_command("simple", a), ["--output", output, "--resume"])
    assert status == 0 and "Traceback" not in stderr, stderr
    warnings = [line for line in stderr.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "epoch 3" in warnings[0] and "damaged" in warnings[0], warnings
    assert "resuming after epoch 2" in warnings[0]
    assert "Epoch 3/3" in stdout and "Epoch 2/3" not in stdout  # epoch 3 redone, epochs 1-2 kept
    assert [int(r["epoch"]) for r in runfiles.read_log(files["log"])] == [0, 1, 2]
    assert not files["backup"].exists()
    load_colorizer(output)

    few = tmp_path / "few"
    for index in range(3):
        save_rgb(few / f"p{index}.png", synthetic_photo(24, 24, seed=index))
    output = tmp_path / "diverged" / "m.keras"
    argv = ["--data", few, "--size", "16", "--width", "0.125", "--epochs", "3", "--lr", "1e12", "--output", output]
    status, stdout, stderr = _call(capsys, lambda a: train_command("simple", a), argv)
    assert "Traceback" not in stderr
    warnings = [line for line in stderr.splitlines() if "warning:" in line and "too few" in line]
    errors = [line for line in stderr.splitlines() if "error:" in line]
    assert len(warnings) == 1 and "2 training and 1 validation" in warnings[0], stderr
    assert status == 1 and len(errors) == 1 and "diverged in epoch" in errors[0], stderr
    assert ("kept the model of epoch" in errors[0]) == output.exists(), errors
    if output.exists():
        load_colorizer(output)  # finite weights: a model with NaN weights is never saved


def test_train_script_usage_error_in_a_real_process(tmp_path):
    result = run_script("train_complex.py", "--lr", "nan", "--output", tmp_path / "m.keras", timeout=120)
    assert result.returncode == 2 and "--lr must be a finite number" in result.stderr
    assert "Traceback" not in result.stderr and not list(tmp_path.iterdir())

