"""User-guided colorization: the hint inputs, the guided family, its training, both engines."""

import json

import numpy as np
import pytest

from conftest import REPO, synthetic_photo

from colorize import hints
from colorize.hints import Guidance, Point

GAN = REPO / "colorize" / "assets" / "models" / "gan.keras"


# ------------------------------------------------------------------ parsing (no Keras)
@pytest.mark.parametrize("text, rgb", [
    ("#c03030", (192, 48, 48)), ("#F00", (255, 0, 0)), ("rgb(1, 2, 3)", (1, 2, 3)), ("RGB(0,128,255)", (0, 128, 255)),
    ("red", (255, 0, 0)), ("RebeccaPurple", (102, 51, 153)), (" navy ", (0, 0, 128)),
])
def test_colours_parse(text, rgb):
    assert hints.parse_colour(text) == rgb


@pytest.mark.parametrize("text", ["", "#12345", "#gggggg", "rgb(1,2)", "rgb(300,0,0)", "reddish", "12"])
def test_bad_colours_are_one_line_errors(text):
    with pytest.raises(ValueError, match="bad colour") as caught:
        hints.parse_colour(text)
    assert "\n" not in str(caught.value)


def test_points_from_the_option_and_from_json():
    assert hints.parse_point("120,80,#c03030") == Point(120.0, 80.0, (192, 48, 48))
    assert hints.parse_point("5, 6,rgb(1,2,3)") == Point(5.0, 6.0, (1, 2, 3))
    items = [{"x": 1, "y": 2, "color": "blue"}, {"x": 3.5, "y": 4, "color": "#00ff00"}]
    assert hints.points_from_json(json.dumps(items)) == [Point(1, 2, (0, 0, 255)), Point(3.5, 4, (0, 255, 0))]
    for bad, words in [("120,80", "expected X,Y,COLOUR"), ("a,80,red", "must be numbers"), ("1,2,blurple", "bad colour"),
                       ("nan,2,red", "finite")]:
        with pytest.raises(ValueError, match=words):
            hints.parse_point(bad)
    for bad, words in [("{", "bad hints JSON"), ('{"x": 1}', "expected a list"), ('[{"x": 1, "y": 2}]', "hint #1"),
                       ('[{"x": "1", "y": 2, "color": "red"}]', "not a number"),
                       ('[{"x": 1, "y": 2, "color": "red"}, {"x": 1, "y": 2, "color": "no"}]', "hint #2")]:
        with pytest.raises(ValueError, match=words):
            hints.points_from_json(bad)


def test_points_outside_the_photo_are_named():
    hints.check_points([Point(0, 0, (0, 0, 0)), Point(99.5, 49, (0, 0, 0))], 50, 100)
    with pytest.raises(ValueError, match=r"hint at \(100, 3\) is outside the 100x50 photo"):
        hints.check_points([Point(100, 3, (0, 0, 0))], 50, 100)
    with pytest.raises(ValueError, match="outside"):
        hints.check_points([Point(-1, 3, (0, 0, 0))], 50, 100)


def test_hint_map_scales_points_to_the_network_grid_and_keeps_their_ab():
    point = Point(399, 0, (200, 30, 30))
    grid = hints.hint_map([point], (300, 400), (96, 128))
    assert grid.shape == (96, 128, 3)
    rows, cols = np.nonzero(grid[..., 2])
    assert rows.min() == 0 and cols.max() == 127 and len(rows) == 2 * 2  # a 3x3 square cut by the corner
    np.testing.assert_allclose(grid[0, 127, :2], point.ab, atol=1e-4)
    assert point.ab[0] > 40  # a red: large a
    assert not hints.hint_map([], (300, 400), (96, 128)).any()


def test_reference_vector_is_a_histogram_and_a_flag():
    vector = hints.reference_vector(synthetic_photo(100, 150))
    assert vector.shape == (hints.reference_length(),) and vector[-1] == 1.0
    assert np.isclose(vector[:-1].sum(), 1.0) and (vector >= 0).all()
    gray = hints.reference_vector(np.full((40, 40, 3), 128, np.uint8))
    assert np.count_nonzero(gray[:-1]) == 1  # every pixel in the bin of ab = 0
    assert not hints.no_reference().any()
    assert not Guidance() and Guidance(points=(Point(0, 0, (0, 0, 0)),)) and Guidance(reference=gray)


# ------------------------------------------------------------------ the simulated user (TensorFlow)
@pytest.mark.slow
def test_simulated_points_reveal_patch_means_biased_to_colour():
    import tensorflow as tf

    from colorize.models import guided

    generator = tf.random.Generator.from_seed(0)
    ab = np.zeros((64, 64, 64, 2), np.float32)
    ab[:, :, 32:, 0] = 50.0  # the right half is red, the left gray
    points = guided.simulate_points(ab, generator).numpy()
    mask = points[..., 2] > 0
    counts = np.array([len(np.unique(np.argwhere(m)[:, 0] // 10 * 100 + np.argwhere(m)[:, 1] // 10)) if m.any() else 0
                       for m in mask])
    assert (counts == 0).mean() > 0.02 and (counts > 0).mean() > 0.6  # some photos get no points, most get some
    assert mask[..., 32:].sum() > 2 * mask[..., :32].sum()  # the colourful half draws more points
    revealed = points[..., 0][mask]
    assert revealed.min() >= 0 and revealed.max() <= 50.0 + 1e-4  # patch means of the truth
    np.testing.assert_allclose(points[..., 1][mask], 0, atol=1e-4)
    assert not points[..., :2][~mask].any()
    reference = guided.simulate_reference(ab, generator).numpy()
    flags = reference[:, -1]
    assert 0.2 < flags.mean() < 0.8 and set(np.unique(flags)) <= {0.0, 1.0}
    np.testing.assert_allclose(reference[:, :-1].sum(axis=1), flags, atol=1e-5)


# ------------------------------------------------------------------ the family
def _zero_inputs(lightness):
    batch, height, width = lightness.shape[:3]
    return [lightness, np.zeros((batch, height, width, 3), np.float32), np.zeros((batch, hints.reference_length()), np.float32)]


@pytest.mark.slow
def test_an_untrained_guided_model_is_the_gan_default_exactly(tmp_path):
    """Started from gan.keras (--init), no hints: the very same ab, through the whole predict path."""
    import keras

    from colorize import models
    from colorize.models.colorizer import make_colorizer
    from colorize.predict.engine import load_colorizer
    from colorize.predict.pipeline import colorize_image

    gan = load_colorizer(GAN)
    family = models.get("guided")
    network = family.build(backbone="efficientnet_lite0", width=0.5)
    family.initialize_from(network, gan.network)
    guided = make_colorizer(family, network, training_size=128, options={"backbone": "efficientnet_lite0", "width": 0.5})
    assert guided.hint_inputs == ("hints", "reference") and gan.hint_inputs == ()
    assert all("hint" in w.path for w in network.trainable_weights)  # the base is frozen
    photo = synthetic_photo(96, 160, seed=3)
    np.testing.assert_array_equal(colorize_image(photo, guided), colorize_image(photo, gan))
    path = tmp_path / "guided.keras"
    guided.save(path)
    reloaded = load_colorizer(path)
    assert reloaded.family == "guided" and reloaded.hint_inputs == ("hints", "reference")
    # A fresh process loads it with the loader alone (its layers are registered by colorize.models.colorizer).
    import subprocess
    import sys

    loaded = subprocess.run([sys.executable, "-c", "import sys; from colorize.predict.engine import load_colorizer; "
                             "print(load_colorizer(sys.argv[1]).hint_inputs)", str(path)],
                            capture_output=True, text=True, cwd=REPO, timeout=300)
    assert "('hints', 'reference')" in loaded.stdout, loaded.stderr[-2000:]
    np.testing.assert_array_equal(colorize_image(photo, reloaded), colorize_image(photo, gan))
    # A point moves the colour where it is (anchoring), even before any training.
    red = Guidance(points=(Point(80, 48, (220, 30, 30)),))
    out = colorize_image(photo, reloaded, guidance=red)
    from colorize.color import rgb_to_lab

    lab = rgb_to_lab(out[46:51, 78:83])
    assert lab[..., 1].mean() > 30
    with pytest.raises(ValueError, match="takes no hints"):
        colorize_image(photo, gan, guidance=red)
    keras.backend.clear_session()


@pytest.mark.slow
def test_a_tiny_guided_model_learns_to_use_points():
    """Trained with simulated points, the ab error near points falls below the error without them."""
    import keras
    import tensorflow as tf

    from colorize import models
    from colorize.models import guided
    from colorize.train.data import LabBatches

    keras.utils.set_random_seed(0)
    family = models.get("guided")
    network = family.build(**family.tiny)
    images = np.stack([synthetic_photo(64, 64, seed=i) for i in range(32)])
    settings = type("S", (), {"lr": 3e-3, "seed": 0, "backbone": "efficientnet_lite0"})()
    family.initialize(network, settings)
    trainer = family.training_model(network, settings)
    family.compile_for_training(trainer, settings, images)
    trainer.fit(LabBatches(images, 8, shuffle=True), epochs=25, verbose=0)
    lightness, ab = LabBatches(images[:16], 16)[0]
    generator = tf.random.Generator.from_seed(5)
    with_points = guided.simulate_points(ab, generator).numpy()
    with_points[..., :2] *= with_points[..., 2:]
    zero = _zero_inputs(lightness)
    truth = keras.ops.convert_to_numpy(keras.ops.average_pool(ab, 4, 4))
    plain = np.asarray(network(zero))
    guided_out = np.asarray(network([lightness, with_points, zero[2]]))
    near = keras.ops.convert_to_numpy(keras.ops.max_pool(with_points[..., 2:], 4, 4))[..., 0] > 0
    error = lambda out: np.abs(out - truth).sum(-1)[near].mean()
    assert error(guided_out) < 0.7 * error(plain), (error(guided_out), error(plain))
    # The reference hint (the truth's own histogram) lowers the error too.
    reference = guided.simulate_reference(ab, tf.random.Generator.from_seed(1), share=1.0, cropped_share=0.0).numpy()
    with_reference = np.asarray(network([lightness, zero[1], reference]))
    assert np.abs(with_reference - truth).mean() < np.abs(plain - truth).mean()


@pytest.mark.slow
def test_compiled_copy_takes_hints_and_matches_keras(tmp_path):
    import keras

    from conftest import make_tiny_colorizer

    from colorize.predict import litert
    from colorize.predict.compile import compile_colorizer
    from colorize.predict.pipeline import colorize_image

    colorizer = make_tiny_colorizer("guided", training_size=64)
    rng = np.random.default_rng(0)
    for weight in colorizer.network.trainable_weights:  # wake the zero-started branches up
        weight.assign(rng.normal(0, 0.1, tuple(weight.shape)).astype(np.float32))
    target = compile_colorizer(colorizer, tmp_path / "guided.lite")
    lite = litert.LiteColorizer.load(target)
    assert lite.hint_inputs == ("hints", "reference") and lite.family == "guided"
    photo = synthetic_photo(80, 120, seed=2)
    guidance = Guidance(points=(Point(10, 10, (0, 0, 255)), Point(100, 60, (255, 200, 0))),
                        reference=hints.reference_vector(synthetic_photo(50, 50, seed=9)))
    for given in (None, guidance):
        ours, theirs = colorize_image(photo, colorizer, guidance=given), colorize_image(photo, lite, guidance=given)
        assert np.abs(ours.astype(int) - theirs).max() <= 1
    assert np.abs(colorize_image(photo, lite, guidance=guidance).astype(int) - colorize_image(photo, lite)).max() > 5
    keras.backend.clear_session()


# ------------------------------------------------------------------ the command line
@pytest.fixture(scope="module")
def tiny_guided(tmp_path_factory):
    """An untrained tiny guided colorizer saved as .keras (its points hold by anchoring alone)."""
    import keras

    from conftest import make_tiny_colorizer

    path = tmp_path_factory.mktemp("guided") / "guided.keras"
    make_tiny_colorizer("guided", training_size=64).save(path)
    keras.backend.clear_session()
    return path


@pytest.mark.slow
def test_cli_points_and_reference_reach_the_model(tiny_guided, tmp_path, capsys):
    from conftest import save_rgb

    from colorize.cli.colorize import colorize_command
    from colorize.color import rgb_to_lab
    from colorize.io import read_image

    photo = save_rgb(tmp_path / "photo.png", np.full((96, 128, 3), 128, np.uint8))
    reference = save_rgb(tmp_path / "reference.png", synthetic_photo(64, 64, seed=1))
    hints_file = tmp_path / "hints.json"
    hints_file.write_text(json.dumps([{"x": 100, "y": 20, "color": "#2040e0"}]))
    status = colorize_command(None, [str(photo), "-m", str(tiny_guided), "-o", str(tmp_path / "out"), "-q",
                                     "--hint", "20,70,rgb(220,40,40)", "--hints", str(hints_file),
                                     "--reference", str(reference)])
    assert status == 0, capsys.readouterr().err
    lab = rgb_to_lab(read_image(tmp_path / "out" / "photo.png"))
    assert lab[70, 20, 1] > 30 and lab[20, 100, 2] < -30  # red a at the first point, blue b at the second


@pytest.mark.slow
def test_cli_guidance_errors_are_one_line_exit_2_nothing_written(tiny_guided, tiny_models, tmp_path, capsys):
    from conftest import save_rgb

    from colorize.cli.colorize import colorize_command

    photo = save_rgb(tmp_path / "photo.png", synthetic_photo(64, 96))
    (tmp_path / "bad.json").write_text("[{\"x\": 1,")
    (tmp_path / "text.jpg").write_text("not a photo")
    out = tmp_path / "out"
    cases = [
        (["-m", str(tiny_models["simple"]), "--hint", "1,1,red"], "takes no hints"),
        (["-m", str(tiny_models["simple"]), "--reference", str(photo)], "takes no hints"),
        (["--hint", "96,10,red"], "hint at (96, 10) is outside the 96x64 photo"),
        (["--hint", "5,5,blurple"], "bad colour 'blurple'"),
        (["--hint", "5,5"], "expected X,Y,COLOUR"),
        (["--hints", str(tmp_path / "bad.json")], "bad hints JSON"),
        (["--hints", str(tmp_path / "missing.json")], "cannot read the hints file"),
        (["--reference", str(tmp_path / "text.jpg")], "text.jpg"),
        (["--reference", str(tmp_path / "nothing.png")], "nothing.png"),
    ]
    for extra, words in cases:
        argv = [str(photo), "-o", str(out), "-q"] + (["-m", str(tiny_guided)] if "-m" not in extra else []) + extra
        assert colorize_command(None, argv) == 2, extra
        err = capsys.readouterr().err.strip()
        assert words in err and len(err.splitlines()) == 1, (extra, err)
        assert not out.exists() or not any(out.iterdir())
    # Points are for one photo.
    second = save_rgb(tmp_path / "second.png", synthetic_photo(64, 96, seed=2))
    assert colorize_command(None, [str(photo), str(second), "-o", str(out), "-q", "-m", str(tiny_guided),
                                   "--hint", "1,1,red"]) == 2
    assert "one photo" in capsys.readouterr().err


# ------------------------------------------------------------------ the bundled guided model
@pytest.mark.slow
def test_bundled_guided_model_is_the_default_without_hints_and_holds_its_points():
    from colorize.color import l_ab_to_rgb, rgb_to_lab
    from colorize.io import list_images, read_image
    from colorize.models.presets import bundled_model, samples_folder
    from colorize.predict.engine import open_colorizer
    from colorize.predict.pipeline import colorize_image, lightness_of

    if not bundled_model("guided").exists():
        pytest.skip("no bundled guided model in this checkout")
    photos = [read_image(path) for path in list_images(samples_folder())[:2]]
    for engine, tolerance in (("keras", 0), ("auto", 1)):  # the compiled copies: float32 rounding
        guided, _ = open_colorizer("guided", engine)
        default, _ = open_colorizer("gan", engine)
        assert guided.hint_inputs == ("hints", "reference")
        for photo in photos:
            difference = np.abs(colorize_image(photo, guided).astype(int) - colorize_image(photo, default))
            assert difference.max() <= tolerance, (engine, difference.max())
    photo = photos[0]
    height, width = photo.shape[:2]
    lightness = lightness_of(photo)
    points = [Point(width // 4, height // 3, (200, 40, 40)), Point(3 * width // 4, 2 * height // 3, (40, 90, 210)),
              Point(width // 2, height // 2, (60, 170, 60))]
    out = rgb_to_lab(colorize_image(photo, guided, guidance=Guidance(points=tuple(points))))
    for point in points:
        x, y = int(point.x), int(point.y)
        asked = np.array(point.ab, np.float32)
        shown = rgb_to_lab(l_ab_to_rgb(lightness[y : y + 1, x : x + 1], asked[None, None]))[0, 0, 1:]
        if np.hypot(*(shown - asked)) <= 2:  # displayable at the photo's lightness there
            assert np.hypot(*(out[y, x, 1:] - asked)) <= 10, (point, out[y, x])
