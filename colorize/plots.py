"""Figures: learning curves, model comparison grids, the temperature sweep, input|output|original.

All figures are drawn on a ``matplotlib.figure.Figure`` with the Agg canvas
attached inside each function (no pyplot, no global backend switch, so
importing this module changes nothing), rendered to memory, and written
atomically with :func:`colorize.io.write_bytes_atomic`.

Command line: ``python -m colorize.cli.plots LOG.csv [--output PNG]`` draws the
loss curves of a Keras ``CSVLogger`` log.
"""

import csv
import io
import math
from pathlib import Path

import numpy as np

from colorize.errors import ColorizeError
from colorize.files import write_bytes_atomic
from colorize.io import SOFTWARE_TAG

DPI = 100


def _new_figure(width_in, height_in):
    """A Figure with its own Agg canvas (no pyplot state, no backend switch)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, png_path, write=None):
    """Render ``figure`` to PNG bytes in memory, then write them atomically (``write(path, data)``: another way)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": SOFTWARE_TAG})  # see io.made_by_colorize
    return Path((write or write_bytes_atomic)(png_path, buffer.getvalue()))


def _as_display(image):
    """uint8 gray (H, W) / (H, W, 1) / RGB (H, W, 3) -> (array, colormap) for imshow."""
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return image, "gray"
    return image, None


def _show(axis, image, title=None):
    array, cmap = _as_display(image)
    axis.imshow(array, cmap=cmap, vmin=0, vmax=255, interpolation="antialiased")
    axis.set_xticks([])
    axis.set_yticks([])
    for spine in axis.spines.values():
        spine.set_visible(False)
    if title:
        axis.set_title(title, fontsize=10)


# ----------------------------------------------------------------------------- learning curves
def read_training_log(csv_path):
    """Keras CSVLogger file -> dict column -> float array, rows ordered by epoch.

    When a resumed run appended epochs that were already logged, the later row
    for an epoch wins. Non-numeric cells become nan. Raises ColorizeError for a
    missing or unusable file.
    """
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise ColorizeError(csv_path, "no such file")
    try:
        with open(csv_path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ColorizeError(csv_path, f"cannot read the CSV log ({error})") from None
    if not rows or "loss" not in rows[0]:
        raise ColorizeError(csv_path, "not a Keras CSVLogger log (needs a header with a 'loss' column and rows)")

    def number(text):
        try:
            return float(text)
        except (TypeError, ValueError):
            return math.nan

    by_epoch = {}
    for position, row in enumerate(rows):
        epoch = number(row.get("epoch", position))
        by_epoch[position if math.isnan(epoch) else int(epoch)] = row
    epochs = sorted(by_epoch)
    columns = [name for name in rows[0] if name and name != "epoch"]
    log = {"epoch": np.array(epochs, np.float64)}
    for name in columns:
        log[name] = np.array([number(by_epoch[e].get(name)) for e in epochs], np.float64)
    return log


def plot_learning_curves(csv_path, png_path):
    """Training/validation loss per epoch from a CSVLogger log -> PNG; marks the best val_loss epoch.

    Other metric pairs in the log (``x`` and ``val_x``, learning rate excluded)
    get a second panel. Returns the PNG path.
    """
    log = read_training_log(csv_path)
    epochs = log["epoch"] + 1  # Keras logs epochs from 0; people count from 1
    # The training speed is no metric: on the same axes its scale (images/s) would flatten every curve.
    skipped = ("epoch", "loss", "val_loss", "lr", "learning_rate", "train_images_per_second")
    extras = [name for name in log if name not in skipped and not name.startswith("val_")]
    from matplotlib.ticker import MaxNLocator

    figure = _new_figure(10 if extras else 6.5, 4.2)
    axes = figure.subplots(1, 2 if extras else 1, squeeze=False)[0]
    for axis in axes:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis = axes[0]
    axis.plot(epochs, log["loss"], marker="o", markersize=3, label="train loss")
    if "val_loss" in log and np.isfinite(log["val_loss"]).any():
        val = log["val_loss"]
        axis.plot(epochs, val, marker="o", markersize=3, label="validation loss")
        best = int(np.nanargmin(val))
        axis.axvline(epochs[best], color="gray", linestyle=":", linewidth=1)
        axis.plot([epochs[best]], [val[best]], marker="*", markersize=14, color="tab:red", linestyle="none",
                  label=f"best val_loss {val[best]:.4g} (epoch {int(epochs[best])})")
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.set_title(f"Learning curves: {Path(csv_path).name}", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    if extras:
        axis = axes[1]
        for name in extras:
            line = axis.plot(epochs, log[name], marker="o", markersize=3, label=name)[0]
            if f"val_{name}" in log:
                axis.plot(epochs, log[f"val_{name}"], marker="o", markersize=3, linestyle="--",
                          color=line.get_color(), label=f"val_{name}")
        axis.set_xlabel("epoch")
        axis.set_title("Other metrics", fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    return _save(figure, png_path)


# ----------------------------------------------------------------------------- evaluation figures
def comparison_grid(rows, column_titles, png_path, cell_inches=2.4):
    """Image grid -> PNG: one row per photo (gray input | each model | truth), titled columns.

    ``rows``: list of rows, each a list of uint8 images (gray (H, W) or RGB
    (H, W, 3)), all rows as long as ``column_titles``. Returns the PNG path.
    """
    if not rows:
        raise ValueError("comparison_grid needs at least one row")
    n_cols = len(column_titles)
    if any(len(row) != n_cols for row in rows):
        raise ValueError("every row needs one image per column title")
    # Each row as tall as its photo's aspect ratio asks: no empty bands around landscape photos.
    aspects = [min(3.0, max(0.33, np.shape(row[0])[0] / np.shape(row[0])[1])) for row in rows]
    title_inches = 0.35
    height = cell_inches * sum(aspects) + title_inches + 0.05 * len(rows)
    figure = _new_figure(cell_inches * n_cols, height)
    axes = figure.subplots(len(rows), n_cols, squeeze=False, gridspec_kw={"height_ratios": aspects})
    figure.subplots_adjust(left=0.005, right=0.995, bottom=0.005, top=1 - title_inches / height,
                           wspace=0.02, hspace=0.05 * len(rows) / sum(aspects))
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            _show(axes[r, c], image, column_titles[c] if r == 0 else None)
    return _save(figure, png_path)


def temperature_sweep(results, png_path):
    """AuC against colourfulness ratio as the temperature varies -> PNG.

    ``results``: the evaluator's result rows (dicts with ``model``, ``head``
    ("gray", "regression" or "bins"), ``temperature``, ``auc`` and
    ``colourfulness_ratio``). Classifier (bins) rows of one model form a line
    annotated with T; regression models and the gray baseline are single
    points; the dashed line at ratio 1 is the truth's colourfulness.
    """
    figure = _new_figure(6.5, 4.8)
    axis = figure.subplots()
    axis.axvline(1.0, color="black", linestyle="--", linewidth=1, label="truth colourfulness (ratio 1)")
    by_model = {}
    for row in results:
        by_model.setdefault((row["model"], row["head"]), []).append(row)
    for (name, head), model_rows in by_model.items():
        x = [row["colourfulness_ratio"] for row in model_rows]
        y = [row["auc"] for row in model_rows]
        if head == "gray":
            axis.plot(x, y, marker="s", color="gray", linestyle="none", markersize=9, label=name)
        elif head == "bins":
            order = np.argsort([row["temperature"] for row in model_rows])
            x, y = np.asarray(x)[order], np.asarray(y)[order]
            temperatures = [model_rows[i]["temperature"] for i in order]
            axis.plot(x, y, marker="o", label=f"{name} (classifier)")
            for xi, yi, temperature in zip(x, y, temperatures):
                axis.annotate(f"T={temperature:g}", (xi, yi), textcoords="offset points", xytext=(5, 5), fontsize=8)
        else:
            axis.plot(x, y, marker="D", linestyle="none", markersize=8, label=f"{name} (regression)")
    axis.set_xlabel("colourfulness ratio (output / truth)")
    axis.set_ylabel("AuC (ab error thresholds 0-150)")
    axis.set_title("Temperature sweep: accuracy vs colourfulness", fontsize=10)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="best")
    figure.tight_layout()
    return _save(figure, png_path)


def compare_figure(gray, colorized, original, png_path, write=None):
    """Side by side input | colorized | original (the original panel only when given) -> PNG.

    ``gray``: the input, gray (H, W) or RGB (a colour input is shown as its
    grayscale, which is what the model saw); ``colorized``: uint8 RGB;
    ``original``: uint8 RGB or None. ``write(path, data)``: how the PNG's bytes
    are written (default: atomically replacing); returns the path it wrote.
    """
    gray = np.asarray(gray)
    if gray.ndim == 3 and gray.shape[-1] == 3:
        from colorize.color import rgb_to_lightness

        gray = np.clip(np.rint(rgb_to_lightness(gray) * 2.55), 0, 255).astype(np.uint8)
    panels = [(gray, "input (grayscale)"), (colorized, "colorized")]
    if original is not None:
        panels.append((original, "original"))
    height, width = np.asarray(colorized).shape[:2]
    panel_h = 4.0
    panel_w = max(1.5, min(8.0, panel_h * width / height))
    figure = _new_figure(panel_w * len(panels), panel_h + 0.4)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for axis, (image, title) in zip(axes, panels):
        _show(axis, image, title)
    figure.tight_layout(pad=0.3)
    return _save(figure, png_path, write)
