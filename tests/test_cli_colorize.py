"""End-to-end runs of colorize_simple.py / colorize_complex.py, good and bad inputs."""

import zipfile

import cv2
import numpy as np
import pytest

from colorize import color
from conftest import run_script, save_rgb, synthetic_photo

SCRIPTS = {"simple": "colorize_simple.py", "complex": "colorize_complex.py"}


def run_cli(capsys, kind, *args):
    """Run the colorize CLI in this process (no interpreter start-up); returns (status, stdout, stderr)."""
    from colorize.cli.colorize import colorize_command

    status = colorize_command(kind, [str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


class Result:
    def __init__(self, status, out, err):
        self.returncode, self.stdout, self.stderr = status, out, err


def read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors, result.stderr
    for fragment in fragments:
        assert any(fragment in line for line in errors), (fragment, result.stderr)


@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_help(kind):
    result = run_script(SCRIPTS[kind], "--help", timeout=120)
    assert result.returncode == 0 and not result.stderr
    for option in ("--output", "--model", "--size", "--compare", "PATH"):
        assert option in result.stdout
    assert ("--temperature" in result.stdout) == (kind == "complex")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_single_file_keeps_resolution_and_lightness(kind, tiny_models, tmp_path):
    source = save_rgb(tmp_path / "in" / "photo.jpg", synthetic_photo(75, 130, seed=1))
    before = source.read_bytes()
    result = run_script(SCRIPTS[kind], source, "--output", tmp_path / "out", "--model", tiny_models[kind], "--compare")
    assert result.returncode == 0, result.stderr
    output = tmp_path / "out" / "photo.png"
    assert output.exists() and (tmp_path / "out" / "photo_compare.png").exists()
    rgb_in, rgb_out = read_rgb(source), read_rgb(output)
    assert rgb_out.shape == rgb_in.shape
    l_in, l_out = color.rgb_to_lightness(rgb_in), color.rgb_to_lightness(rgb_out)
    assert np.abs(l_in - l_out).mean() < 0.5 and np.abs(l_in - l_out).max() < 3
    assert source.read_bytes() == before  # inputs are never modified


def test_folder_run_mirrors_subfolders_and_reports_bad_files(tiny_models, photo_folder, tmp_path, capsys):
    (photo_folder / "notes.txt").write_text("not an image")
    result = Result(*run_cli(capsys, "simple", photo_folder, "-o", tmp_path / "out", "-m", tiny_models["simple"]))
    assert result.returncode == 1  # one broken file
    assert "broken.jpg" in result.stderr and "Traceback" not in result.stderr
    written = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png"))
    assert len(written) == 13 and "class0/gray.png" in written and "class1/img01.png" in written
    assert not (tmp_path / "out" / "class1" / "broken.png").exists()


def test_existing_outputs_are_kept_unless_overwrite(tiny_models, tmp_path, capsys):
    source = save_rgb(tmp_path / "a.png", synthetic_photo(32, 32))
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"precious")
    assert run_cli(capsys, "simple", source, "-o", out, "-m", tiny_models["simple"])[0] == 0
    assert (out / "a.png").read_bytes() == b"precious" and (out / "a-1.png").exists()
    assert run_cli(capsys, "simple", source, "-o", out, "-m", tiny_models["simple"], "--overwrite")[0] == 0
    assert (out / "a.png").read_bytes() != b"precious"


@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_mirror_option_reaches_the_network(kind, tiny_models, tmp_path, capsys):
    from colorize.predict.engine import load_colorizer
    from colorize.predict.pipeline import colorize_image

    image = synthetic_photo(48, 72, seed=2)
    source = save_rgb(tmp_path / "p.png", image)
    model = load_colorizer(tiny_models[kind])
    for flag, mirror in ((), True), (("--no-mirror",), False):
        out = tmp_path / f"out_{mirror}"
        assert run_cli(capsys, kind, source, "-o", out, "-m", tiny_models[kind], "--size", 32, *flag)[0] == 0
        np.testing.assert_array_equal(read_rgb(out / "p.png"), colorize_image(image, model, size=32, mirror=mirror))


@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_no_argument_run_colorizes_the_bundled_samples(kind, tmp_path):
    from colorize.models.presets import DEFAULT_MODEL, bundled_model, samples_folder

    bundled = {"simple": "simple", "complex": DEFAULT_MODEL}[kind]  # each alias's default model
    if not bundled_model(bundled).exists():
        pytest.fail(f"the bundled {bundled}.keras is missing")
    result = run_script(SCRIPTS[kind], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "note:" not in result.stderr, result.stderr  # the bundled files are in the current format
    samples = sorted(p.stem for p in samples_folder().iterdir())
    assert sorted(p.stem for p in (tmp_path / "colorized").glob("*.png")) == samples
    for stem in samples:
        out = read_rgb(tmp_path / "colorized" / f"{stem}.png")
        assert out.shape == read_rgb(samples_folder() / f"{stem}.jpg").shape


def _bad_inputs(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    text = folder / "notes.jpg"
    text.write_text("hello, I am not an image")
    truncated = folder / "truncated.jpg"
    ok, encoded = cv2.imencode(".jpg", synthetic_photo(64, 64))
    truncated.write_bytes(encoded.tobytes()[: len(encoded) // 2])
    tiny = save_rgb(folder / "tiny.png", synthetic_photo(4, 4))
    empty = folder / "empty.png"
    empty.write_bytes(b"")
    return {
        "missing": (folder / "nope.jpg", "no such file"),
        "text": (text, "not an image"),
        "truncated": (truncated, "truncated"),
        "tiny": (tiny, "too small"),
        "empty": (empty, "not an image"),
    }


@pytest.mark.parametrize("case", ["missing", "text", "truncated", "tiny", "empty"])
def test_bad_image_gives_one_line_and_no_output(case, tiny_models, tmp_path, capsys):
    path, reason = _bad_inputs(tmp_path)[case]
    result = Result(*run_cli(capsys, "simple", path, "-o", tmp_path / "out", "-m", tiny_models["simple"]))
    assert_one_line_error(result, path.name, reason)
    assert len([l for l in result.stderr.splitlines() if l.strip()]) == 1, result.stderr
    assert not list((tmp_path / "out").rglob("*.png")) if (tmp_path / "out").exists() else True


def test_huge_image_is_refused_before_decoding(tiny_models, tmp_path, capsys):
    path = tmp_path / "huge.png"
    # A valid PNG header claiming 20000 x 20000 pixels is enough: we refuse on the header.
    from PIL import Image

    Image.new("L", (20000, 6000)).save(path)
    result = Result(*run_cli(capsys, "simple", path, "-o", tmp_path / "out", "-m", tiny_models["simple"]))
    assert_one_line_error(result, "huge.png", "megapixel limit")


def test_good_files_still_colorized_when_others_fail(tiny_models, tmp_path, capsys):
    bad = _bad_inputs(tmp_path)
    good = save_rgb(tmp_path / "good.jpg", synthetic_photo(40, 40))
    result = Result(
        *run_cli(capsys, "simple", bad["text"][0], good, bad["missing"][0], "-o", tmp_path / "out", "-m", tiny_models["simple"])
    )
    assert result.returncode == 1
    assert (tmp_path / "out" / "good.png").exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png"]


def test_bad_model_files(tiny_models, tmp_path, capsys):
    image = save_rgb(tmp_path / "x.png", synthetic_photo(32, 32))
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(np.random.default_rng(0).bytes(2000))
    broken_zip = tmp_path / "zip.keras"
    with zipfile.ZipFile(broken_zip, "w") as archive:
        archive.writestr("config.json", "{not json")
    text = tmp_path / "model.txt"
    text.write_text("hi")
    cases = [
        (tmp_path / "missing.keras", "not found"),
        (corrupt, "not a Keras model"),
        (broken_zip, "corrupt"),
        (text, "not a Keras model"),
    ]
    for index, (model, reason) in enumerate(cases):
        # The first case as a real process (the backend must stay quiet there too), the rest in-process.
        if index == 0:
            result = run_script(SCRIPTS["simple"], image, "-o", tmp_path / "out", "-m", model)
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        else:
            result = Result(*run_cli(capsys, "simple", image, "-o", tmp_path / "out", "-m", model))
        assert result.returncode == 2
        assert_one_line_error(result, model.name, reason)
    assert not (tmp_path / "out").exists()


def test_wrong_kind_of_model_is_a_clear_error(tiny_models, tmp_path, capsys):
    image = save_rgb(tmp_path / "x.png", synthetic_photo(32, 32))
    result = Result(*run_cli(capsys, "complex", image, "-o", tmp_path / "out", "-m", tiny_models["simple"]))
    assert_one_line_error(result, "simple model", "colorize_simple.py")
    result = Result(*run_cli(capsys, "simple", image, "-o", tmp_path / "out", "-m", tiny_models["complex"]))
    assert_one_line_error(result, "zhang model", "colorize_complex.py")
    assert not (tmp_path / "out").exists()
    # The colorize command takes a model of any family.
    for model in tiny_models.values():
        assert run_cli(capsys, None, image, "-o", tmp_path / "any", "-m", model, "--overwrite")[0] == 0


@pytest.mark.parametrize("args,message", [(["--size", "30"], "multiple of 8"), (["--temperature", "0"], "temperature")])
def test_bad_options_are_usage_errors(args, message, capsys):
    from colorize.cli.colorize import colorize_command

    with pytest.raises(SystemExit) as exit_info:
        colorize_command("complex", args)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_gif_and_unreadable_files_get_their_own_reason(tiny_models, tmp_path, capsys):
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 10, 10)).save(tmp_path / "anim.gif")
    status, _, err = run_cli(capsys, "simple", tmp_path / "anim.gif", "-o", tmp_path / "out", "-m", tiny_models["simple"])
    assert status == 1 and "unsupported image format GIF" in err


def test_jpeg_with_trailing_data_is_accepted(tiny_models, tmp_path, capsys):
    ok, encoded = cv2.imencode(".jpg", synthetic_photo(40, 40))
    path = tmp_path / "trailer.jpg"
    path.write_bytes(encoded.tobytes() + b"MOTION-PHOTO-TRAILER" * 100)
    status, _, err = run_cli(capsys, "simple", path, "-o", tmp_path / "out", "-m", tiny_models["simple"])
    assert status == 0, err
    assert (tmp_path / "out" / "trailer.png").exists()


def test_outputs_get_normal_file_permissions(tiny_models, tmp_path, capsys):
    import os
    import stat

    source = save_rgb(tmp_path / "p.png", synthetic_photo(32, 32))
    assert run_cli(capsys, "simple", source, "-o", tmp_path / "out", "-m", tiny_models["simple"])[0] == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out" / "p.png").stat().st_mode) == 0o666 & ~umask


def test_engine_choices_match_the_library():
    """cli.ENGINES is a copy (so --help imports no NumPy); it must list what colorize.predict.engine accepts."""
    from colorize.cli import colorize as cli

    from colorize.predict import engine

    assert cli.ENGINES == engine.ENGINES


def test_a_run_hashes_the_model_once_and_takes_preset_names(tmp_path, monkeypatch):
    """The engine is resolved once per run: the bundled .keras file is hashed once (to check that its
    compiled copy was made from it), and --model takes a preset's name as well as a path."""
    from colorize import files
    from colorize.cli.colorize import colorize_command
    from colorize.predict import litert

    calls = []
    real = files.file_digest

    def counting(path):
        calls.append(str(path))
        return real(path)

    monkeypatch.setattr(litert, "file_digest", counting)
    photo = tmp_path / "gray.png"
    save_rgb(photo, synthetic_photo(40, 48, seed=4))
    assert colorize_command("simple", [str(photo), "-o", str(tmp_path / "out"), "--model", "simple", "-q"]) == 0
    assert (tmp_path / "out" / "gray.png").is_file()
    assert len(calls) == (1 if litert.runtime_available() else 0), calls
