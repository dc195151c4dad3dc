"""Every command line (the top floor): argument parsing and messages only; the library does the work.

    colorize.cli.colorize    ``colorize`` / colorize_simple.py / colorize_complex.py
    colorize.cli.train       ``colorize-train`` / train_simple.py / train_complex.py
    colorize.cli.evaluate    ``python -m colorize.cli.evaluate``: scores beside the gray baseline
    colorize.cli.export      ``python -m colorize.cli.export``: slim or convert a .keras file, compile a .lite copy
    colorize.cli.plots       ``python -m colorize.cli.plots``: loss curves of a training log
    colorize.cli.splits      ``python -m colorize.cli.splits``: the photos of one train/val/test split
    colorize.cli.distribute  ``python -m colorize.cli.distribute``: rehearse a multi-device run on one CPU
    colorize.cli.common      closed or full standard streams; colorize.cli.helpformat: --help layout
"""
