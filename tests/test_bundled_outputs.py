"""The bundled samples come out pixel for pixel as recorded, on both engines.

A guard for refactors: moving code must not change one colour. The digests
below are of the decoded pixels of every PNG that the no-argument runs of
both colorize scripts write (``--engine litert`` and ``--engine keras``),
recorded with the library versions listed. Other versions of the numeric
libraries may round differently, so the test runs only where they match;
a retrained bundled model changes the digests on purpose: regenerate them
with ``python tests/test_bundled_outputs.py`` and say so in the commit.
"""

import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path

import cv2
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from conftest import REPO  # noqa: E402

RECORD = Path(__file__).parent / "bundled_outputs.json"
SCRIPTS = ("colorize_complex", "colorize_simple")
ENGINES = ("litert", "keras")
VERSIONED = ("keras", "tensorflow", "ai-edge-litert", "opencv-python", "numpy")


def versions():
    found = {}
    for name in VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def model_digests():
    from colorize.files import file_digest
    from colorize.models.presets import bundled_model

    return {name: file_digest(bundled_model(name))[:16] for name in ("gan", "simple")}


def produce(folder):
    """{engine/script/photo.png: pixel digest} of the no-argument runs into ``folder``."""
    from colorize.cli.colorize import colorize_command

    digests = {}
    for engine in ENGINES:
        for script in SCRIPTS:
            out = Path(folder) / engine / script
            assert colorize_command(script.split("_")[1], ["-o", str(out), "--engine", engine, "-q"]) == 0
            for png in sorted(out.glob("*.png")):
                pixels = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
                digests[f"{engine}/{script}/{png.name}"] = hashlib.sha256(pixels.tobytes()).hexdigest()[:16]
    return digests


@pytest.mark.slow
def test_bundled_samples_are_pixel_identical_to_the_record(tmp_path):
    record = json.loads(RECORD.read_text())
    if record["versions"] != versions():
        pytest.skip(f"recorded with {record['versions']}, running {versions()}: rounding may differ")
    assert record["models"] == model_digests(), (
        "a bundled model changed: regenerate the record with python tests/test_bundled_outputs.py")
    assert produce(tmp_path) == record["digests"]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        RECORD.write_text(json.dumps({"versions": versions(), "models": model_digests(),
                                      "digests": produce(folder)}, indent=2) + "\n")
    print(f"wrote {RECORD.relative_to(REPO)}")
