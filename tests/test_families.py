"""One shared test harness, run for every registered model family with its tiny config.

Any batch size and any image size its input multiple allows; save -> reload
-> the same output; every trainable weight gets a gradient; the loss falls on
a small set of photos. A family added to the registry is tested here without
writing a test of its own. The example family (tests/example_family.py) shows
what adding one takes: one module and one ``register`` call.
"""

import json

import keras
import numpy as np
import pytest

from colorize import models
from colorize.train.data import LabBatches
from colorize.models.colorizer import Colorizer, make_colorizer
from conftest import photo_folder, synthetic_photo  # noqa: F401  (fixture)

EXAMPLE = models.Family(
    name="example",
    module="example_family",
    summary="a two-convolution test family",
    head=models.REGRESSION,
    input_multiple=2,
    output_stride=2,
    script="complex",
    model_options=(models.Option("--filters", int, 8, "channels"),),
    defaults={"size": 16, "lr": 3e-3},
    tiny={"filters": 8},
)


@pytest.fixture
def example_family(monkeypatch):
    """The example family, registered for one test (one registry line, as a real family's)."""
    monkeypatch.setitem(models._FAMILIES, EXAMPLE.name, EXAMPLE)
    return EXAMPLE


FAMILY_NAMES = models.names()


def _family(name, request):
    if name == EXAMPLE.name:
        request.getfixturevalue("example_family")
    return models.get(name)


def _settings(family, **overrides):
    """The parsed default training settings of ``family`` (what colorize-train would pass)."""
    from colorize.cli.train import build_train_parser

    settings = build_train_parser(family.name).parse_args([])
    for key, value in overrides.items():
        setattr(settings, key, value)
    return settings


def _inputs(network, lightness):
    """What ``network`` takes for a batch of L: L itself, or [L, zero hint map, zero reference] (guided)."""
    if len(network.inputs) == 1:
        return lightness
    batch, height, width = lightness.shape[:3]
    return [lightness, np.zeros((batch, height, width, 3), np.float32),
            np.zeros((batch,) + tuple(network.inputs[2].shape[1:]), np.float32)]


def _trained(family, network):
    """What the harness trains: the network, or (a network taking hints) the family's training model,
    which draws simulated hints from each batch's truth."""
    return network if len(network.inputs) == 1 else family.training_model(network, _settings(family))


def _outputs(family):
    return 2 if family.head == models.REGRESSION else len(__import__("colorize.quantize").quantize.ab_bins())


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY_NAMES + [EXAMPLE.name])
def test_any_batch_and_image_size(name, request):
    family = _family(name, request)
    keras.utils.set_random_seed(0)
    colorizer = make_colorizer(family, family.build(**family.tiny))
    m, s = family.input_multiple, family.output_stride
    for batch, height, width in [(1, m, m), (3, 4 * m, 6 * m), (2, 10 * m, 4 * m)]:
        if height < 8 and s > 1:
            height, width = height * 8, width * 8  # deep encoders need a few pixels at the bottleneck
        lightness = np.random.default_rng(batch).uniform(0, 100, (batch, height, width, 1)).astype(np.float32)
        raw = np.asarray(colorizer.network.predict_on_batch(_inputs(colorizer.network, lightness)))
        assert raw.shape == (batch, height // s, width // s, _outputs(family))
        ab = np.asarray(colorizer.predict_on_batch(_inputs(colorizer.network, lightness)))
        assert ab.shape == (batch, height // s, width // s, 2) and np.isfinite(ab).all()
        assert np.abs(ab).max() < 200  # Lab units, not normalised ones


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY_NAMES + [EXAMPLE.name])
def test_save_reload_same_output_and_description(name, request, tmp_path):
    family = _family(name, request)
    keras.utils.set_random_seed(1)
    colorizer = make_colorizer(family, family.build(**family.tiny), training_size=8 * family.input_multiple,
                               options=family.tiny)
    path = tmp_path / f"{name}.keras"
    colorizer.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded, Colorizer)
    assert (reloaded.family, reloaded.head, reloaded.input_multiple, reloaded.output_stride) == (
        family.name, family.head, family.input_multiple, family.output_stride)
    assert reloaded.training_size == 8 * family.input_multiple and reloaded.options == family.tiny
    if family.head == models.BINS:
        np.testing.assert_array_equal(reloaded.bins, colorizer.bins)
    side = max(8, family.input_multiple)
    lightness = np.random.default_rng(2).uniform(0, 100, (2, 2 * side, 3 * side, 1)).astype(np.float32)
    lightness = _inputs(colorizer.network, lightness)
    np.testing.assert_allclose(reloaded.predict_on_batch(lightness), colorizer.predict_on_batch(lightness), atol=1e-4)
    # The description is plain JSON inside the archive: readable without Keras.
    import zipfile

    config = json.loads(zipfile.ZipFile(path).read("config.json"))["config"]
    assert config["family"] == family.name and config["head"] == family.head


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY_NAMES + [EXAMPLE.name])
def test_every_trainable_weight_gets_a_gradient(name, request):
    family = _family(name, request)
    keras.utils.set_random_seed(3)
    network = family.build(**family.tiny)
    images = np.stack([synthetic_photo(64, 64, seed=i) for i in range(4)])
    family.initialize(network, _settings(family))  # pretrained encoders: a random one may output zeros
    trained = _trained(family, network)
    family.compile_for_training(trained, _settings(family), images)
    # Plain SGD moves exactly the weights whose gradient is non-zero (AdamW's decay would move all);
    # a large step, so that gradients of 1e-6 still move a weight of 1 in float32.
    trained.compile(optimizer=keras.optimizers.SGD(1.0), loss=trained.loss)
    lightness, ab = LabBatches(images, 4)[0]
    # A head that starts gray (zero kernel) passes no gradient back before it has learnt something:
    # give zero kernels small values, so that this checks the architecture's gradient flow.
    rng = np.random.default_rng(3)
    for weight in network.trainable_weights:
        value = keras.ops.convert_to_numpy(weight)
        if value.ndim > 1 and not value.any():
            weight.assign(rng.normal(0, 0.05, value.shape).astype(value.dtype))
    before = [np.array(w) for w in network.trainable_weights]
    trained.train_on_batch(lightness, ab)
    unchanged = [w.path for w, old in zip(network.trainable_weights, before)
                 if np.array_equal(keras.ops.convert_to_numpy(w), old)]
    assert before and not unchanged


@pytest.mark.slow
@pytest.mark.parametrize("name", FAMILY_NAMES + [EXAMPLE.name])
def test_loss_falls_on_a_small_set_of_photos(name, request):
    family = _family(name, request)
    keras.utils.set_random_seed(4)
    images = np.stack([synthetic_photo(32, 32, seed=i) for i in range(16)])
    network = family.build(**family.tiny)
    family.initialize(network, _settings(family))
    trained = _trained(family, network)
    family.compile_for_training(trained, _settings(family, lr=2e-3), images)
    evaluation = LabBatches(images, 16)
    before = trained.evaluate(evaluation, verbose=0)
    history = trained.fit(LabBatches(images, 8, shuffle=True), epochs=30, verbose=0).history["loss"]
    after = trained.evaluate(evaluation, verbose=0)
    # Training mode (batch statistics) learns visibly; inference mode (BatchNorm's slowly moving
    # statistics, 60 steps here) follows in the same direction.
    assert history[-1] < 0.75 * history[0], history
    assert after < before, (before, after)


def test_a_new_family_trains_and_colorizes_through_the_command_lines(example_family, photo_folder, tmp_path, capsys):
    """One module and one registry line: colorize-train and colorize serve the family unchanged."""
    from colorize.cli.colorize import colorize_command
    from colorize.cli.train import train_command

    output = tmp_path / "example.keras"
    status = train_command(None, ["example", "--data", str(photo_folder), "--epochs", "1", "--output", str(output),
                                  "--batch-size", "4", "--filters", "4"])
    assert status == 0, capsys.readouterr().err
    settings = json.loads((tmp_path / "example_settings.json").read_text())
    assert settings["family"] == "example" and settings["filters"] == 4 and "example_note" in settings
    model = keras.saving.load_model(output)
    assert model.family == "example" and model.training_size == 16 and model.options == {"filters": 4}
    image = photo_folder / "class0" / "img00.jpg"
    assert colorize_command(None, [str(image), "-o", str(tmp_path / "out"), "-m", str(output), "-q"]) == 0
    assert (tmp_path / "out" / "img00.png").exists()
    # train_complex.py offers it as an --arch (its registry entry says script="complex").
    assert train_command("complex", ["--arch", "example", "--output", str(output), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_registry_entries_are_complete():
    for family in models.families():
        assert family.head in models.HEADS and family.script in ("simple", "complex")
        assert family.input_multiple >= 1 and family.output_stride >= 1
        assert set(family.tiny) <= {option.dest for option in family.model_options}
        implementation = family.implementation()
        assert callable(implementation.build) and callable(implementation.compile_for_training)
    with pytest.raises(KeyError, match="known"):
        models.get("no-such-family")


def test_backbone_names_agree_and_lightness_becomes_the_gray_photo():
    from colorize.color import rgb_to_lightness
    from colorize.models import backbones

    assert tuple(backbones.SPECS) == models.BACKBONES
    lightness = np.linspace(0, 100, 64, dtype=np.float32).reshape(1, 8, 8, 1)
    rgb = np.asarray(backbones.LightnessToGrayRGB()(lightness))[0]
    assert rgb.shape == (8, 8, 3) and np.ptp(rgb, axis=-1).max() == 0  # gray
    recovered = rgb_to_lightness(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
    assert np.abs(recovered - lightness[0, ..., 0]).max() < 0.5  # 8-bit rounding only


@pytest.mark.slow
def test_offline_backbone_weights_load_and_online_ones_fail_in_one_line():
    from colorize.models import backbones

    encoder = backbones.build_backbone("efficientnet_lite0")
    before = [np.array(w) for w in encoder.weights]
    backbones.load_backbone_weights(encoder, "efficientnet_lite0")
    assert all(not np.array_equal(np.array(w), b) for w, b in zip(encoder.weights, before) if b.size > 1)
    assert not encoder.trainable_weights  # frozen
    import socket

    try:  # keras.applications weights need the internet, which CI does not have
        socket.create_connection(("storage.googleapis.com", 443), timeout=3).close()
        pytest.skip("the internet is reachable here: the offline error cannot be shown")
    except OSError:
        pass
    with pytest.raises(backbones.BackboneUnavailable, match="efficientnet_lite0") as error:
        backbones.load_backbone_weights(backbones.build_backbone("resnet50"), "resnet50")
    assert "\n" not in str(error.value)
