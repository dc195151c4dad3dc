"""One exception type for every bad input a user can give us.

The command-line tools print ``str(error)`` as a single line and exit non-zero,
so the message names the file and the reason and never needs a traceback.
"""


class ColorizeError(Exception):
    """A bad input file (image, model, folder) with a human-readable reason."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def one_line(error, limit=200):
    """An exception as a short single-line reason: an OSError's strerror, else its text, else its type.

    The one formatter behind every "FILE: reason" line the command lines print.
    """
    text = getattr(error, "strerror", None) or str(error).strip() or type(error).__name__
    return " ".join(str(text).split())[:limit]
