"""Data path: folders, CIFAR-10, splits, augmentation, (L, ab) batches."""

import numpy as np
import pytest

from colorize import color

from colorize.train import data
from colorize.cli import splits
from conftest import synthetic_photo


def test_split_is_deterministic_disjoint_and_complete():
    keys = [f"img{i}.jpg" for i in range(200)]
    first = data.split_items(keys, seed=3)
    assert first == data.split_items(list(keys), seed=3)
    assert data.split_items(keys, seed=4) != first
    sets = [set(first[name]) for name in data.SPLITS]
    assert sum(map(len, sets)) == 200 and set().union(*sets) == set(range(200))
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert [len(first[n]) for n in data.SPLITS] == [160, 20, 20]


def test_split_ignores_listing_order_and_keeps_a_validation_image():
    keys = [f"k{i}" for i in range(30)]
    forward = data.split_items(keys, seed=0)
    backward = data.split_items(keys[::-1], seed=0)
    assert {keys[i] for i in forward["val"]} == {keys[::-1][i] for i in backward["val"]}
    assert len(data.split_items(["a", "b", "c"], seed=0)["val"]) == 1
    with pytest.raises(ValueError):
        data.split_items(keys, fractions=(0.5, 0.1, 0.1))


def test_folder_splits_reads_nested_folders_and_skips_bad_files_in_one_warning(photo_folder, capsys):
    splits = data.folder_splits([photo_folder], size=32, progress=False)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and "skipped 2 of 14" in lines[0]
    assert sum(len(splits[n]) for n in data.SPLITS) == 12
    assert all(splits[n].dtype == np.uint8 and splits[n].shape[1:] == (32, 32, 3) for n in data.SPLITS)


def test_split_list_names_the_photos_training_holds_out(photo_folder, tmp_path, capsys):
    # python -m colorize.cli.splits writes the test split that training keeps back, for colorize.evaluation.evaluate.
    assert splits.main(["--data", str(photo_folder), "--split", "test", "--list", str(tmp_path / "l" / "t.txt")]) == 0
    listed = (tmp_path / "l" / "t.txt").read_text().splitlines()
    expected = data.folder_split_paths([photo_folder])["test"]
    assert listed and sorted((tmp_path / "l" / line).resolve() for line in listed) == sorted(p.resolve() for p in expected)
    assert f"{len(listed)} test images listed" in capsys.readouterr().out
    assert not set(expected) & set(data.folder_split_paths([photo_folder])["train"])


def test_cifar10_uses_the_keras_loader_interface():
    rng = np.random.default_rng(0)
    fake = rng.integers(0, 256, (50, 32, 32, 3), dtype=np.uint8)
    fake[0] = fake[0, ..., :1]  # one grayscale image is skipped

    def loader():
        return (fake[:40], np.zeros((40, 1))), (fake[40:], np.zeros((10, 1)))

    splits = data.cifar10_splits(size=32, loader=loader)
    assert [len(splits[n]) for n in data.SPLITS] == [39, 5, 5]
    assert data.cifar10_splits(size=16, loader=loader)["train"].shape[1:] == (16, 16, 3)


def _lightness_coded_image(size=96):
    """Colour is a function of lightness: dark blue / mid green / bright orange bands."""
    yy, xx = np.mgrid[0:size, 0:size]
    band = ((xx + 2 * yy) // 48) % 3
    palette = np.array([[30, 40, 160], [40, 150, 40], [250, 190, 90]], np.uint8)
    return palette[band]


def test_augmentation_keeps_l_and_ab_aligned():
    image = _lightness_coded_image()
    rng = np.random.default_rng(0)
    changed = 0
    for _ in range(5):
        warped = data.random_affine(image, rng)
        changed += int(np.abs(warped.astype(int) - image).mean() > 1)
        lightness, ab = color.rgb_to_l_ab(warped)
        lightness, ab = lightness[..., 0], ab
        reference_l, reference_ab = color.rgb_to_l_ab(np.array([[[30, 40, 160], [40, 150, 40], [250, 190, 90]]], np.uint8))
        # Each pixel's ab must belong to the band its own L says (edges blend, so most pixels).
        nearest = np.abs(lightness[..., None] - reference_l[0, :, 0]).argmin(-1)
        expected_ab = reference_ab[0][nearest]
        agree = np.linalg.norm(ab - expected_ab, axis=-1) < 15
        assert agree.mean() > 0.9
    assert changed >= 4


def test_lab_batches_shapes_ranges_and_determinism():
    images = np.stack([synthetic_photo(32, 32, seed=i) for i in range(10)])
    batches = data.LabBatches(images, batch_size=4, augment=True, shuffle=True, seed=1)
    assert len(batches) == 3
    x, y = batches[0]
    assert x.shape == (4, 32, 32, 1) and y.shape == (4, 32, 32, 2)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 100 and np.abs(y).max() <= 128  # L and ab in Lab units
    assert batches[2][0].shape[0] == 2
    again = data.LabBatches(images, batch_size=4, augment=True, shuffle=True, seed=1)
    np.testing.assert_array_equal(again[0][1], y)
    batches.on_epoch_end()
    assert not np.array_equal(batches[0][1], y)


def test_validation_batches_are_plain_lab_of_the_images():
    images = np.stack([synthetic_photo(16, 16, seed=i) for i in range(3)])
    x, y = data.LabBatches(images, batch_size=3)[0]
    lightness, ab = color.rgb_to_l_ab(images)
    np.testing.assert_allclose(x, lightness, atol=1e-4)
    np.testing.assert_allclose(y, ab, atol=1e-4)


def test_split_list_matches_the_training_split(photo_folder, tmp_path):
    listed = tmp_path / "lists" / "val.txt"
    assert splits.main(["--data", str(photo_folder), "--split", "val", "--list", str(listed)]) == 0
    names = sorted((listed.parent / line).resolve().name for line in listed.read_text().split())
    expected = data.split_paths(data.list_images(photo_folder), root=photo_folder)["val"]
    assert names == sorted(p.name for p in expected) and len(names) >= 1


def test_cifar10_download_failure_becomes_an_oserror():
    def offline():
        raise Exception("URL fetch failure: Name or service not known")

    with pytest.raises(OSError, match="CIFAR-10 could not be loaded"):
        data.cifar10_splits(loader=offline)


def test_balanced_epochs_draw_every_class_equally_often():
    classes = np.array([0] * 90 + [1] * 9 + [2] * 1)
    order = data.epoch_order(len(classes), shuffle=True, seed=0, epoch=0, balance=classes)
    assert len(order) == 100
    counts = np.bincount(classes[order], minlength=3)
    assert counts.min() > 20 and counts.max() < 47  # about a third each, not 90 / 9 / 1
    again = data.epoch_order(len(classes), shuffle=True, seed=0, epoch=0, balance=classes)
    np.testing.assert_array_equal(order, again)  # reproducible per (seed, epoch)
    assert sorted(data.epoch_order(10, shuffle=True, seed=0, epoch=1)) == list(range(10))
    np.testing.assert_array_equal(data.epoch_order(5, shuffle=False, seed=0, epoch=0, balance=[0, 0, 0, 0, 1]),
                                  np.arange(5))  # validation order is never resampled
