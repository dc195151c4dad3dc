"""Losses and optimizers of the two heads, shared by the families that offer both.

    regression  ab in Lab units, the L2 loss on normalised ab (AbMeanSquaredError)
    bins        logits over the Q bins, the class-rebalanced soft cross-entropy
                (Zhang et al.), weights from the training photos' colour prior
"""

from colorize.models import BINS, REGRESSION


def compile_for_head(model, head, settings, train_images, output_stride, optimizer=None):
    """Compile ``model`` for ``head`` with AdamW (``settings.lr``, ``settings.weight_decay``).

    ``settings`` also gives ``lam`` / ``plain_ce`` (bins) and ``seed``;
    ``train_images`` uint8 RGB (N, S, S, 3) gives the colour prior of a bins
    head. The truth is pooled by ``output_stride`` to the model's output grid.
    Returns extras for the run's settings file ({"class_prior": p} for bins).
    """
    from colorize.losses import AbMeanSquaredError, RebalancedSoftCrossEntropy
    from colorize.training import make_adamw

    optimizer = optimizer or make_adamw(settings.lr, weight_decay=getattr(settings, "weight_decay", 1e-3))
    if head == REGRESSION:
        model.compile(optimizer=optimizer, loss=AbMeanSquaredError(downsample=output_stride))
        return {}
    if head != BINS:
        raise ValueError(f"unknown head {head!r}")
    from colorize.rebalance import class_weights, prior_from_rgb

    prior = prior_from_rgb(train_images, seed=getattr(settings, "seed", 0))
    weights = None
    if not getattr(settings, "plain_ce", False):
        weights = class_weights(prior, lam=settings.lam)
        print(f"class rebalancing: lambda={settings.lam}, weights {weights.min():.2f}..{weights.max():.2f}")
    model.compile(
        optimizer=optimizer,
        loss=RebalancedSoftCrossEntropy(
            weights=None if weights is None else [float(w) for w in weights], downsample=output_stride
        ),
    )
    return {"class_prior": [round(float(p), 8) for p in prior]}
