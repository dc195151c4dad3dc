"""Reading images safely and writing outputs without ever losing a user's file.

Every failure becomes a :class:`colorize.errors.ColorizeError` naming the file
and the reason, so command-line tools can print one line and move on.
"""

import os
import tempfile
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from colorize.errors import ColorizeError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm")

# Formats (as PIL names them) that OpenCV decodes.
DECODABLE_FORMATS = ("JPEG", "PNG", "BMP", "TIFF", "WEBP", "PPM", "JPEG2000")

# Smallest side we accept: below this there is nothing to colorize and
# resizing up to the network's working size only invents blur.
MIN_SIDE = 8
# Largest image we decode: 100 megapixels (about 300 MB as uint8 RGB).
MAX_PIXELS = 100_000_000


def is_image_path(path):
    """True when ``path`` has one of the image extensions we read."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(folder):
    """All image files under ``folder`` (recursive, nested class folders included), sorted."""
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))


def read_image(path, min_side=MIN_SIDE, max_pixels=MAX_PIXELS):
    """Read an image file as uint8 RGB (H, W, 3), or grayscale as (H, W, 3) with equal channels.

    Raises ColorizeError for a missing file, a non-image, a corrupt or truncated
    image, or one smaller than ``min_side`` or larger than ``max_pixels``.
    The size is checked from the header before the pixels are decoded.
    """
    path = Path(path)
    if not path.exists():
        raise ColorizeError(path, "no such file")
    if path.is_dir():
        raise ColorizeError(path, "is a folder, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as header:
                width, height = header.size
                image_format = header.format
    except PermissionError:
        raise ColorizeError(path, "permission denied") from None
    except Exception:  # PIL raises many types for non-images; the reason is the same
        raise ColorizeError(path, "not an image file (or an unsupported format)") from None
    if image_format not in DECODABLE_FORMATS:
        raise ColorizeError(path, f"unsupported image format {image_format} (use JPEG, PNG, BMP, TIFF or WebP)")
    if width * height > max_pixels:
        raise ColorizeError(path, f"image is {width}x{height}, larger than the {max_pixels / 1e6:.0f} megapixel limit")
    if min(width, height) < min_side:
        raise ColorizeError(path, f"image is {width}x{height}, too small (each side must be at least {min_side} px)")
    data = np.fromfile(path, np.uint8)  # np.fromfile + imdecode handles non-ASCII paths
    if _is_truncated(path, data, image_format):
        raise ColorizeError(path, "corrupt or truncated image data")
    # libjpeg/libpng print warnings straight to fd 2; our report is the one line below.
    from colorize.runtime import silenced_stderr_fd

    with silenced_stderr_fd():
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    # OpenCV applies the EXIF orientation, so a rotated photo may come out transposed.
    if image is None or image.shape[:2] not in ((height, width), (width, height)):
        raise ColorizeError(path, "corrupt or truncated image data")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def _is_truncated(path, data, image_format):
    """True when the file's data stops early (OpenCV pads truncated images silently).

    JPEG and PNG are checked by their end markers without decoding (fast for
    12-megapixel photos); other formats are fully decoded once by PIL.
    """
    # Fast path: the usual end markers. Files with data after them (camera
    # trailers, motion photos) are not rejected but checked by PIL below.
    if image_format == "JPEG" and data[-64:].tobytes().rstrip(b"\x00\r\n ").endswith(b"\xff\xd9"):
        return False
    if image_format == "PNG" and b"IEND" in data[-32:].tobytes():
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as image:
                image.load()
    except Exception:
        return True
    return False


def is_grayscale(rgb, tolerance=2):
    """True when an RGB uint8 image carries no colour (all channels within ``tolerance``)."""
    rgb = np.asarray(rgb)
    if rgb.ndim == 2 or rgb.shape[-1] == 1:
        return True
    spread = rgb.max(axis=-1).astype(np.int16) - rgb.min(axis=-1).astype(np.int16)
    return bool(np.percentile(spread, 99) <= tolerance)


def write_png(path, rgb):
    """Write uint8 RGB (H, W, 3) to ``path`` as PNG atomically.

    The PNG is encoded in memory and moved into place only when complete, so a
    failure never leaves a partial file and never touches an existing one.
    """
    path = Path(path)
    # Huffman-only deflate: for photographs about 2.7x faster than the default
    # with files within 2% of its size (measured on the bundled samples).
    ok, encoded = cv2.imencode(
        ".png",
        cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY],
    )
    if not ok:
        raise ColorizeError(path, "could not encode the PNG")
    write_bytes_atomic(path, encoded.tobytes())


def write_bytes_atomic(path, data):
    """Write ``data`` to ``path`` through a temporary file in the same folder and rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes the file private (0600); give it the usual permissions of a new file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
