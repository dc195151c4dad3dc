"""Is a colorizer's loss of recognisability a matter of how much colour, or of which colour?

    python benchmarks/probe_desaturation.py [--model gan] [--scales 1 0.8 0.6 0.4]
        [--data ../shared/data/imagenet_val] [--limit 600] [--size N]

Evaluates one colorizer with its predicted chroma multiplied by each scale (hue kept; 0 would be the
gray baseline) on the same seeded photos as ``python -m colorize.cli.evaluate --semantic``: AuC,
colour ratio, false colour on neutral pixels and EfficientNet-Lite2 top-1 (all photos and the classes
absent from the training folders). When a fine-tuned model's top-1 equals that of the default
desaturated to the same colour ratio, the fine-tuning bought nothing but less colour.
"""

import argparse
import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("COLORIZE_SHARED_DATA", REPO.parent / "shared" / "data"))


class Desaturated:
    """A colorizer whose decoded ab is multiplied by ``scale``; everything else is the wrapped one's."""

    def __init__(self, colorizer, scale):
        self._colorizer, self.scale = colorizer, float(scale)

    def __getattr__(self, name):
        return getattr(self._colorizer, name)

    def decode(self, raw, temperature=None):
        return np.asarray(self._colorizer.decode(raw, temperature), np.float32) * self.scale


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gan", help="preset name or .keras/.lite file (default: gan)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.8, 0.6, 0.4])
    parser.add_argument("--data", type=Path, default=SHARED / "imagenet_val")
    parser.add_argument("--limit", type=int, default=600)
    parser.add_argument("--size", type=int, default=None, help="working size (default: the model's training size)")
    args = parser.parse_args()

    from colorize.runtime import quiet_keras

    quiet_keras()
    from colorize.evaluation.evaluate import Evaluation, find_photos, format_table, iter_photo_batches
    from colorize.evaluation.evaluate import untrained_classes
    from colorize.evaluation.semantic import ImagenetClassifier
    from colorize.predict.engine import open_colorizer

    colorizer, path = open_colorizer(args.model)
    models = [Desaturated(colorizer, scale) for scale in args.scales]
    names = [f"{Path(path).stem} x{scale:g}" for scale in args.scales]
    evaluation = Evaluation(models, names, None, args.size, 0, semantic=ImagenetClassifier("lite2"),
                            untrained_wnids=untrained_classes([args.data]))
    for batch in iter_photo_batches(find_photos([args.data]), args.limit, 0):
        evaluation.add_batch(batch)
    truth = {"colourfulness": float(np.mean(evaluation.truth_colourfulness)),
             "colourfulness_std": float(np.std(evaluation.truth_colourfulness))}
    truth.update(evaluation.semantic_truth())
    print(format_table(evaluation.results(), truth, {"net": "lite2", "photos": evaluation.semantic_photos,
                                                     "images": len(evaluation.truth_colourfulness),
                                                     "untrained": evaluation.untrained_photos}))


if __name__ == "__main__":
    main()
