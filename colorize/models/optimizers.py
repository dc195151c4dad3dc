"""The optimizers the families train with (here, below both the models and the training code)."""

import keras

# Parameters that weight decay must not shrink (biases and BatchNorm's affine
# and running statistics), matched as substrings of variable names.
NO_DECAY_NAMES = ("bias", "gamma", "beta", "moving_mean", "moving_variance")


def make_adamw(learning_rate=3e-4, weight_decay=1e-3, beta_1=0.9, beta_2=0.99):
    """AdamW with Zhang et al.'s betas and decay, biases and BatchNorm excluded from decay."""
    optimizer = keras.optimizers.AdamW(
        learning_rate=learning_rate, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer
