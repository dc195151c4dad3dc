"""Helpers every command line shares: standard streams that may be closed or full, argument types."""

import os
import sys


def guard_std_streams():
    """Make a closed stdout or stderr harmless (``2>&-``): point it at the null device.

    With file descriptor 2 closed, the next file opened would get number 2,
    and any C library writing a warning to "stderr" would write into it (an
    output PNG, say); Python also sets sys.stderr to None, which progress bars
    and print() do not expect.
    """
    for descriptor in (1, 2):
        try:
            os.fstat(descriptor)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_WRONLY)
            except OSError:
                continue
            if null != descriptor:
                os.dup2(null, descriptor)
                os.close(null)
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")


class StdoutLines:
    """Progress lines on stdout. A stdout that cannot take them (a full disk, a closed pipe) loses
    them: the first error is kept in ``error`` and the descriptor is pointed at the null device, so
    that neither later lines nor Python's flush at exit fail again."""

    def __init__(self):
        self.error = None

    def say(self, text):
        if self.error is not None:
            return
        try:
            print(text, flush=True)
        except (OSError, ValueError) as error:
            self.error = error
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, sys.stdout.fileno())
                os.close(null)
            except (OSError, ValueError, AttributeError):  # not a real file (a test's capture): nothing to redirect
                pass


def whole_number_between(low, high):
    """An argparse type: a whole number from ``low`` to ``high`` (both included), else a one-line usage error."""
    import argparse

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low} to {high}, got {text}")
        return value

    return parse
