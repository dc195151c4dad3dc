"""Input pipeline vs training speed with the photos in RAM (--cache ram) and streamed from disk (--cache none).

    python benchmarks/bench_streaming.py --data FOLDER [FOLDER ...] [--size 64] [--batch-size 32]
        [--workers 2] [--epochs 3] [--width 1.0]

For each mode it prints the median over ``--epochs`` epochs of

* pipeline images/s: the training batches alone (decode from disk when
  streaming, augmentation, Lab conversion), fetched by ``--workers`` threads
  as Keras' PyDataset does;
* training images/s: ``model.fit`` of the simple family on those batches
  (ThroughputLogger: training steps only, not validation), the first,
  graph-tracing epoch left out;

and, for RAM, the one-off decoding time. Training is the bottleneck
wherever the pipeline is faster than training.
"""

import argparse
import concurrent.futures
import statistics
import time


def pipeline_rate(batches, workers):
    """Images/s of one epoch of ``batches`` fetched by ``workers`` threads (PyDataset's thread pool)."""
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        images = sum(len(x) for x, _ in pool.map(batches.__getitem__, range(len(batches))))
    batches.on_epoch_end()
    return images / (time.perf_counter() - start)


def training_rates(batches, epochs, width, lr=1e-3):
    """Training images/s per epoch of the simple family on ``batches`` (epochs + 1; the first is tracing)."""
    import keras

    from colorize.train.callbacks import ThroughputLogger
    from colorize.models.losses import AbMeanSquaredError
    from colorize.models.simple import build_simple_model

    keras.utils.set_random_seed(0)
    model = build_simple_model(width=width)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=AbMeanSquaredError())
    logger = ThroughputLogger(batches.batch_size)
    model.fit(batches, epochs=epochs + 1, callbacks=[logger], verbose=0)
    return logger.images_per_second[1:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR", help="photo folder(s)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="batch-fetching threads (training's --workers)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs measured (medians over them)")
    parser.add_argument("--width", type=float, default=1.0, help="simple model width (1.0: 3.9 M parameters)")
    args = parser.parse_args(argv)

    from colorize.runtime import quiet_keras

    quiet_keras()
    from colorize.train.photos import load_training_photos

    print(f"size {args.size} px, batch {args.batch_size}, {args.workers} worker threads, simple width {args.width}")
    for mode in ("ram", "none"):
        start = time.perf_counter()
        photos = load_training_photos(args.data, args.size, cache=mode, progress=False)
        loaded = time.perf_counter() - start
        make = lambda: photos.batches("train", args.batch_size, augment=True, shuffle=True, workers=args.workers)
        pipeline = [pipeline_rate(make(), args.workers) for _ in range(args.epochs)]
        training = training_rates(make(), args.epochs, args.width)
        what = f"decoded {len(photos['train']) + len(photos['val']) + len(photos['test'])} photos in {loaded:.1f} s" \
            if mode == "ram" else f"listed {len(photos['train'])} training files in {loaded:.1f} s"
        print(
            f"--cache {mode:4s}: pipeline {statistics.median(pipeline):7.0f} images/s, training "
            f"{statistics.median(training):6.1f} images/s (medians of {args.epochs} epochs of "
            f"{len(photos['train'])} photos; {what})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
