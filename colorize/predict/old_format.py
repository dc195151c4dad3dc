"""Reading model files of the format before self-describing colorizers (release 0.1).

Those files hold a bare network: normalised L ((L - 50) / 100) in, and either
normalised ab (ab / 110, 2 channels: the CS 512 regression model) or logits
over the Q bins (the Zhang classifier) out, with the training size and the
builder's options only in ``NAME_settings.json`` beside the file. The
output channel count is the only thing that told them apart, so this module
(and only this one) maps it to a family. :func:`upgrade` rebuilds the
network with the family's builder (normalisation inside) and copies the
weights; results are unchanged up to float rounding.

``python -m colorize.cli.export OLD.keras NEW.keras`` converts a file for good.
"""

import json
from pathlib import Path

# Release-0.1 output channels -> family (the bins count is checked against the frozen table).
_OLD_FORMAT_FAMILIES = {"regression": "simple", "bins": "zhang"}


def _sidecar_settings(path):
    """The builder's options a 0.1 file carries in ``NAME_settings.json`` beside it ({} when absent or unreadable).

    That sidecar is part of the 0.1 format (the network alone could not say
    its width or training size), so it is read here, as plain JSON, without
    going through training code.
    """
    sidecar = Path(f"{Path(path).with_suffix('')}_settings.json")
    try:
        settings = json.loads(sidecar.read_text())
    except (OSError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def old_format_head(model):
    """REGRESSION or BINS for a release-0.1 network; ValueError for anything else."""
    from colorize.models import BINS, REGRESSION
    from colorize.quantize import ab_bins

    shape = model.output_shape
    if isinstance(shape, (list, dict)) or len(model.input_shape) != 4 or model.input_shape[-1] != 1:
        raise ValueError("not a colorize model (expects one L input and one output)")
    channels = shape[-1]
    if channels == 2:
        return REGRESSION
    if channels == len(ab_bins()):
        return BINS
    raise ValueError(f"not a colorize model (output has {channels} channels, expected 2 or {len(ab_bins())})")


def upgrade(model, path=None):
    """A release-0.1 network (loaded with compile=False) -> an equivalent Colorizer.

    ``path``: where it was loaded from, to find its settings file (training
    size, width, middle blocks). Raises ValueError when it is not one of ours.
    """
    from colorize import models
    from colorize.models.colorizer import make_colorizer

    family = models.get(_OLD_FORMAT_FAMILIES[old_format_head(model)])
    settings = _sidecar_settings(path) if path is not None else {}
    options = family.option_values(settings)
    size = settings.get("size")
    try:
        network = family.build(**options)
        network.set_weights(model.get_weights())
    except ValueError:
        raise ValueError(
            f"old-format {family.name} model whose weights do not fit the options in its settings file ({options})"
        ) from None
    training_size = int(size) if isinstance(size, int) and size >= 8 and size % family.input_multiple == 0 else None
    return make_colorizer(family, network, training_size=training_size, options=options)

