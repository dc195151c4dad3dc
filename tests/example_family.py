"""A tiny model family that exists only for the tests: what adding a family takes.

One module with ``build`` and ``compile_for_training`` (this file) and one
``register`` call (tests/test_families.py) are all a new family needs: the
training and colorizing command lines, the evaluator and the shared model
tests then serve it without a change.
"""

import keras
from keras import layers

from colorize.models.colorizer import lightness_input
from colorize.models.heads import regression_output


def build(filters=8):
    """L (B, H, W, 1) in [0, 100] -> ab (B, H/2, W/2, 2): one strided conv, one conv, the regression head."""
    inputs, x = lightness_input()
    x = layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu", name="down")(x)
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", name="mid")(x)
    return keras.Model(inputs, regression_output(x), name="example")


def compile_for_training(network, settings, train_images):
    from colorize.models.losses import AbMeanSquaredError

    network.compile(optimizer=keras.optimizers.Adam(settings.lr), loss=AbMeanSquaredError(downsample=2))
    return {"example_note": "compiled by tests/example_family.py"}
