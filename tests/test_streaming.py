"""--cache ram|none|auto: photos streamed from disk give the batches RAM mode gives."""

import numpy as np
import pytest

from conftest import save_rgb, synthetic_photo
from colorize.train import data
from colorize.train import photos as streaming


@pytest.fixture
def good_folder(tmp_path):
    """14 readable colour photos of different sizes in two class folders."""
    root = tmp_path / "good"
    for index in range(14):
        save_rgb(root / f"class{index % 2}" / f"img{index:02d}.png", synthetic_photo(40 + index, 52, seed=index))
    return root


def _all_batches(batches):
    return [batches[index] for index in range(len(batches))]


def test_streamed_batches_equal_ram_batches_over_epochs(good_folder):
    ram = streaming.load_training_photos([good_folder], 32, cache="ram", progress=False)
    disk = streaming.load_training_photos([good_folder], 32, cache="none")
    assert (ram.mode, disk.mode) == ("ram", "none") and disk.streaming
    for name in data.SPLITS:
        assert len(ram[name]) == len(disk[name])
    # The same split as the decoder the RAM mode has always used.
    np.testing.assert_array_equal(ram["train"], data.folder_splits([good_folder], 32, progress=False)["train"])
    from_ram = ram.batches("train", 4, augment=True, shuffle=True, seed=3)
    from_disk = disk.batches("train", 4, augment=True, shuffle=True, seed=3)
    assert len(from_ram) == len(from_disk) == 3
    for _epoch in range(2):
        for (x_ram, y_ram), (x_disk, y_disk) in zip(_all_batches(from_ram), _all_batches(from_disk)):
            np.testing.assert_array_equal(x_ram, x_disk)
            np.testing.assert_array_equal(y_ram, y_disk)
        from_ram.on_epoch_end()
        from_disk.on_epoch_end()


def test_streaming_drops_bad_files_with_their_labels_and_warns_once_per_epoch(photo_folder, capsys):
    photos = streaming.load_training_photos([photo_folder], 32, fractions=(1.0, 0.0, 0.0), cache="none", labels=True)
    assert photos.class_names == ["class0", "class1"] and len(photos["train"]) == 14  # 12 good, gray, broken
    batches = photos.batches("train", 5)
    seen = 0
    for lightness, (ab, labels) in _all_batches(batches):
        assert len(lightness) == len(ab) == len(labels) and lightness.shape[1:] == (32, 32, 1)
        seen += len(labels)
    assert seen == 12
    batches.on_epoch_end()
    err = capsys.readouterr().err
    assert err.count("warning:") == 1 and "skipped 2 more of 14" in err
    _all_batches(batches)
    batches.on_epoch_end()  # nothing new skipped: no second warning
    assert "warning" not in capsys.readouterr().err
    # Each photo keeps its own class: photo i of the fixture is in folder class{i % 2}.
    for index, path in enumerate(photos["train"]):
        assert photos.labels["train"][index] == int(path.parent.name[-1])


def test_a_batch_of_only_bad_files_takes_the_next_readable_photos(tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"not a jpeg")
    good = save_rgb(tmp_path / "good.png", synthetic_photo(32, 32))
    batches = streaming.PathBatches([tmp_path / "broken.jpg", good], 32, batch_size=1)
    lightness, ab = batches[0]
    assert lightness.shape == (1, 32, 32, 1)
    np.testing.assert_array_equal(lightness, batches[1][0])
    nothing = streaming.PathBatches([tmp_path / "broken.jpg"], 32, batch_size=1)
    from colorize.errors import ColorizeError

    with pytest.raises(ColorizeError, match="none of the training photos"):
        nothing[0]


def test_auto_keeps_photos_in_ram_only_when_they_fit_the_budget():
    need = streaming.decoded_bytes(1000, 64)
    assert need == 1000 * 64 * 64 * 3
    assert streaming.choose_cache("auto", 1000, 64, budget_bytes=need)[0] == "ram"
    mode, reason = streaming.choose_cache("auto", 1000, 64, budget_bytes=need - 1)
    assert mode == "none" and "do not fit" in reason
    assert streaming.choose_cache("ram", 10**9, 1024, budget_bytes=1)[0] == "ram"
    assert streaming.choose_cache("none", 1, 8)[0] == "none"
    with pytest.raises(ValueError, match="cache mode"):
        streaming.choose_cache("disk", 1, 8)
    assert streaming.available_memory_bytes() > 0


def test_streaming_prior_sample_is_seeded_and_bounded(good_folder):
    paths = data.folder_split_paths([good_folder])["train"]
    sample = streaming.prior_sample(paths, 32, seed=1, max_pixels=32 * 32 * 5)
    assert sample.shape == (5, 32, 32, 3) and sample.dtype == np.uint8
    np.testing.assert_array_equal(sample, streaming.prior_sample(paths, 32, seed=1, max_pixels=32 * 32 * 5))
    assert len(streaming.prior_sample(paths, 32)) == len(paths)  # fewer photos than the pixels asked for


def test_cifar10_stays_in_ram_whatever_the_cache_mode(monkeypatch):
    fake = np.stack([synthetic_photo(32, 32, seed=i) for i in range(10)])
    monkeypatch.setattr(data, "cifar10_splits", lambda size, fractions, seed: {"train": fake, "val": fake[:2],
                                                                                "test": fake[:1]})
    photos = streaming.load_training_photos(["cifar10"], 32, cache="none")
    assert photos.mode == "ram" and "--cache none ignored" in photos.reason
    assert photos.prior_images() is fake


@pytest.mark.slow
def test_training_streams_from_disk_and_resumes_from_ram(good_folder, tmp_path, capsys, monkeypatch):
    """A --cache none run trains and commits its epochs; its --resume may keep the photos in RAM instead."""
    import keras

    from colorize.train import runfiles, fit as training
    from colorize.cli.train import train_command

    class Disconnect(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt  # the Colab runtime is gone after one finished epoch

    real_fit = training.fit
    monkeypatch.setattr(training, "fit", lambda *a, **k: real_fit(*a, **k, extra_callbacks=[Disconnect()]))
    output = tmp_path / "run" / "s.keras"
    args = ["simple", "--data", str(good_folder), "--size", "32", "--epochs", "2", "--batch-size", "4",
            "--width", "0.125", "--output", str(output), "--workers", "2"]
    with pytest.raises(KeyboardInterrupt):
        train_command(None, args + ["--cache", "none"])
    assert "photos: streamed from disk (--cache none)" in capsys.readouterr().out
    monkeypatch.setattr(training, "fit", real_fit)
    assert train_command(None, ["simple", "--output", str(output), "--resume", "--cache", "ram"]) == 0
    assert "photos: in RAM (--cache ram)" in capsys.readouterr().out
    assert [int(row["epoch"]) for row in runfiles.read_log(runfiles.run_files(output)["log"])] == [0, 1]
    assert output.exists()
