#!/usr/bin/env python
"""Speed and memory figures for colorize (prints medians; never asserts).

    python benchmarks/bench_colorize.py                 # everything (about 10 minutes on 2 cores)
    python benchmarks/bench_colorize.py --only help startup big folder per-image training

Figures (startup, big and folder once per engine: --engines auto keras; auto = the
compiled LiteRT copy of a bundled model, keras = the .keras file through TensorFlow):
  help      every command's --help and `import colorize`: process start to exit (no Keras/TensorFlow)
  startup   the no-argument run of colorize_complex.py, process start to written files
  big       a 12-megapixel photo (4000x3000): seconds beyond start-up and peak memory (max RSS)
  folder    100 photos of 500x375: images/second end to end vs the network alone
  per-image seconds per image for colorize_simple.py / colorize_complex.py at 256 and 1024 px
  training  training images/second, input pipeline alone vs training, both models, 64 and 128 px
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def photo(height, width, seed=0):
    """A smooth, colourful synthetic photo (uint8 RGB) of any size, cheap to make."""
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)
    noise = rng.integers(-8, 9, (height, width, 1), dtype=np.int16)
    return np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def save(path, rgb):
    import cv2

    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def median_of(values):
    return statistics.median(values)


def _timed_runs(command, runs, cwd=None):
    """Wall seconds of ``runs`` runs of ``command`` (a list), each a new process."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def bench_help(runs):
    commands = {
        "colorize_complex.py --help": [sys.executable, str(REPO / "colorize_complex.py"), "--help"],
        "colorize_simple.py --help": [sys.executable, str(REPO / "colorize_simple.py"), "--help"],
        "train_complex.py --help": [sys.executable, str(REPO / "train_complex.py"), "--help"],
        "train_simple.py --help": [sys.executable, str(REPO / "train_simple.py"), "--help"],
        "python -m colorize.cli.colorize (colorize) --help": [sys.executable, "-c", "import sys; from colorize.cli.colorize import main; "
                                                     "sys.exit(main(['--help']))"],
        "colorize-train zhang --help": [sys.executable, "-c", "import sys; from colorize.cli.train import main; "
                                        "sys.exit(main(['zhang', '--help']))"],
        "python -c 'import colorize'": [sys.executable, "-c", "import colorize"],
        "python -c pass (the interpreter alone)": [sys.executable, "-c", "pass"],
    }
    for name, command in commands.items():
        times = _timed_runs(command, runs, cwd=REPO)
        print(f"help: {name}: median {median_of(times):.3f} s over {runs} runs "
              f"(min {min(times):.3f}, max {max(times):.3f}); target < 1 s")


def bench_startup(runs, engines):
    """Runs alternate between the engines, so a change in the machine's load hits both alike."""
    times = {engine: [] for engine in engines}
    peaks = {engine: [] for engine in engines}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            for engine in engines:
                command = [sys.executable, str(REPO / "colorize_complex.py"), "--overwrite", "-q", "--engine", engine]
                start = time.perf_counter()
                child = subprocess.Popen(command, cwd=tmp)
                _, status, usage = os.wait4(child.pid, 0)
                times[engine].append(time.perf_counter() - start)
                peaks[engine].append(usage.ru_maxrss / 1024)
                assert os.waitstatus_to_exitcode(status) == 0
    for engine in engines:
        values = times[engine]
        print(f"startup: no-argument colorize_complex.py --engine {engine}: median {median_of(values):.2f} s over "
              f"{runs} runs (min {min(values):.2f}, max {max(values):.2f}), peak RSS {max(peaks[engine]):.0f} MiB; "
              "target <= 8 s")


_BIG_CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[1])
from colorize.predict.engine import load_colorizer, model_engine
from colorize.predict.pipeline import colorize_image
from colorize.io import read_image, write_png
engine, path = model_engine(sys.argv[2], sys.argv[5])
if engine == "keras":
    from colorize.runtime import quiet_keras
    quiet_keras()
model = load_colorizer(path, engine=engine)
start = time.perf_counter()
image = read_image(sys.argv[3])
write_png(sys.argv[4], colorize_image(image, model))
seconds = time.perf_counter() - start
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def bench_big(runs, model, engines):
    with tempfile.TemporaryDirectory() as tmp:
        source = save(Path(tmp) / "big.jpg", photo(3000, 4000))
        results = {engine: [] for engine in engines}
        for _ in range(runs):
            for engine in engines:
                out = subprocess.run(
                    [sys.executable, "-c", _BIG_CHILD, str(REPO), str(model), str(source), str(Path(tmp) / "out.png"),
                     engine],
                    check=True, capture_output=True, text=True,
                ).stdout.split()
                results[engine].append((float(out[0]), float(out[1])))
    for engine in engines:
        seconds = median_of([r[0] for r in results[engine]])
        rss = max(r[1] for r in results[engine])
        print(f"big: 4000x3000 photo, --engine {engine}: read + colorize + write {seconds:.2f} s median over {runs} "
              f"runs (beyond start-up; target <= 4 s), peak RSS {rss:.0f} MiB (whole process; target <= 2048)")


def bench_folder(model_path, engine, count=100):
    import numpy as np

    from colorize.runtime import quiet_keras

    quiet_keras()
    from colorize.cli.colorize import colorize_command
    from colorize.predict.engine import load_colorizer
    from colorize.predict.pipeline import concurrent_colorizers, lightness_of, predict_raw

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        folder.mkdir()
        images = [photo(375, 500, seed=i) for i in range(count)]
        for index, image in enumerate(images):
            save(folder / f"p{index:03d}.jpg", image)
        model = load_colorizer(model_path, engine=engine)
        copies = concurrent_colorizers(model)  # as the colorize command runs a folder's batches
        lightness = [lightness_of(im) for im in images]
        for network in {id(m): m for m in [model, *copies]}.values():
            predict_raw(network, lightness[:8])  # trace once
        start = time.perf_counter()
        predict_raw(model, lightness)
        network = count / (time.perf_counter() - start)
        start = time.perf_counter()
        with ThreadPoolExecutor(len(copies)) as pool:  # batches of 8 spread over the copies
            list(pool.map(lambda k: predict_raw(copies[k % len(copies)], lightness[k * 8 : k * 8 + 8]),
                          range(-(-count // 8))))
        network_copies = count / (time.perf_counter() - start)
        start = time.perf_counter()
        status = colorize_command("complex", [str(folder), "-o", str(Path(tmp) / "out"), "-m", str(model_path), "-q",
                                              "--engine", engine])
        end_to_end = count / (time.perf_counter() - start)
        assert status == 0 and len(list((Path(tmp) / "out").glob("*.png"))) == count
    best = max(network, network_copies)
    print(f"folder: --engine {engine}, {count} photos of 500x375: {end_to_end:.1f} images/s end to end; network "
          f"alone {network:.1f} images/s on one copy, {network_copies:.1f} on {len(copies)} side by side (ratio to "
          f"the better {end_to_end / best:.2f}; target >= 0.5)")
    del np


def bench_per_image(runs):
    from colorize.runtime import quiet_keras

    quiet_keras()
    from colorize.models.presets import bundled_model
    from colorize.predict.engine import load_colorizer
    from colorize.predict.pipeline import colorize_image
    from colorize.io import read_image, write_png

    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("simple", "unet"):
            model = load_colorizer(bundled_model(kind))
            for side in (256, 1024):
                source = save(Path(tmp) / f"{side}.jpg", photo(side, side))
                colorize_image(read_image(source), model)  # trace once
                times = []
                for _ in range(runs):
                    start = time.perf_counter()
                    write_png(Path(tmp) / "o.png", colorize_image(read_image(source), model))
                    times.append(time.perf_counter() - start)
                print(f"per-image: colorize_{kind} {side}x{side}: {median_of(times):.3f} s median over {runs} "
                      "(read + colorize + write, excluding start-up)")


def bench_training(sizes, images_per_size=256):
    import keras
    import numpy as np

    from colorize.runtime import quiet_keras

    quiet_keras()
    from colorize.train.data import LabBatches
    from colorize.models.losses import AbMeanSquaredError, RebalancedSoftCrossEntropy
    from colorize.models.simple import build_simple_model
    from colorize.models.zhang import build_zhang_model
    from colorize.models.optimizers import make_adamw

    builders = {
        "simple (width 0.5)": lambda: _compiled(build_simple_model(width=0.5), keras.optimizers.Adam(1e-3), AbMeanSquaredError()),
        "simple (width 1.0)": lambda: _compiled(build_simple_model(width=1.0), keras.optimizers.Adam(1e-3), AbMeanSquaredError()),
        "complex (width 0.25, 2 middle blocks)": lambda: _compiled(
            build_zhang_model(width=0.25, middle_blocks=2), make_adamw(1e-3), RebalancedSoftCrossEntropy()
        ),
    }
    for size in sizes:
        images = np.stack([photo(size, size, seed=i) for i in range(images_per_size)])
        batches = LabBatches(images, 32, augment=True, shuffle=True)
        start = time.perf_counter()
        for index in range(len(batches)):
            batches[index]
        pipeline = len(images) / (time.perf_counter() - start)
        for name, build in builders.items():
            model = build()
            model.fit(batches, epochs=1, verbose=0, steps_per_epoch=2)  # trace
            start = time.perf_counter()
            model.fit(batches, epochs=1, verbose=0)
            train = len(images) / (time.perf_counter() - start)
            print(f"training: {name} at {size}px: pipeline alone {pipeline:.0f} images/s, training {train:.1f} images/s")
            keras.backend.clear_session()


def _compiled(model, optimizer, loss):
    model.compile(optimizer=optimizer, loss=loss)
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=["help", "startup", "big", "folder", "per-image", "training"])
    parser.add_argument("--runs", type=int, default=5, help="repetitions for medians")
    parser.add_argument("--model", default=None, help="classifier for big/folder (default: the bundled one)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128], help="training sizes")
    parser.add_argument("--engines", nargs="+", default=["auto", "keras"], choices=["auto", "keras", "litert"],
                        help="engines for startup, big and folder")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPU cores, Python {sys.version.split()[0]}")
    if args.model is None:
        from colorize.models.presets import bundled_model

        args.model = str(bundled_model())
    if "help" in args.only:
        bench_help(args.runs)
    if "startup" in args.only:
        bench_startup(args.runs, args.engines)
    if "big" in args.only:
        bench_big(max(3, args.runs // 2), args.model, args.engines)
    if "folder" in args.only:
        for engine in args.engines:
            bench_folder(args.model, engine)
    if "per-image" in args.only:
        bench_per_image(args.runs)
    if "training" in args.only:
        bench_training(args.sizes)


if __name__ == "__main__":
    main()
