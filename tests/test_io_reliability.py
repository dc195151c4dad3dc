"""colorize.io.read_image against every bad or unusual input file we could think of.

Each case builds its file in ``tmp_path`` and states the outcome: a decoded
uint8 (H, W, 3) image, or one ColorizeError naming the file and a reason,
with nothing printed on stderr. Also: reading in worker threads never loses
what the main thread prints, a named pipe is never opened, list_images skips
special files and ends on link loops, and silenced_stderr_fd survives a
closed fd 2.
"""

import io
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from colorize.errors import ColorizeError
from colorize.io import MAX_PIXELS, list_images, read_image

REPO = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------
# File builders


def photo(height=48, width=64, seed=0):
    """A colourful uint8 RGB (height, width, 3) test image: gradients, blocks and mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    image = np.stack([xx, yy, 1 - xx * yy], axis=-1) * 200 + 20 + rng.normal(0, 4, (height, width, 3))
    image[height // 4 : height // 2, width // 4 : width // 2] = (220, 40, 40)
    return np.clip(image, 0, 255).astype(np.uint8)


def jpeg_bytes(rgb, **options):
    """Encode uint8 RGB with Pillow (libjpeg); options as for Image.save (progressive, exif, ...)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=90, **options)
    return buffer.getvalue()


def pillow_rgb(path):
    """Reference decode: Pillow's own, as stored (no EXIF rotation), uint8 RGB."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(width, height, bit_depth, colour_type, rows, idat=None):
    """A PNG built by hand: ``rows`` are the raw scanlines (without filter bytes)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    if idat is None:
        idat = zlib.compress(b"".join(b"\x00" + row for row in rows))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def truncate_scan(data, keep=0.5):
    """JPEG bytes cut inside the entropy-coded data (no end marker)."""
    return data[: int(len(data) * keep)]


def write(path, data):
    path.write_bytes(data)
    return path


def _save_pil(path, image, **options):
    image.save(path, **options)
    return path


# Each builder: tmp_path -> (path, expected). expected is ("ok", (H, W)) or
# ("error", reason fragment).


def _baseline_jpeg(tmp):
    return write(tmp / "photo.jpg", jpeg_bytes(photo(48, 64))), ("ok", (48, 64))


def _gray_jpeg(tmp):
    gray = photo(40, 56)[..., 0]
    return write(tmp / "gray.jpg", jpeg_bytes(np.ascontiguousarray(gray))), ("ok", (40, 56))


def _progressive_jpeg(tmp):
    return write(tmp / "progressive.jpg", jpeg_bytes(photo(48, 64), progressive=True)), ("ok", (48, 64))


def _trailer_jpeg(tmp):
    data = jpeg_bytes(photo(48, 64)) + b"MOTION-PHOTO-TRAILER" * 200
    return write(tmp / "trailer.jpg", data), ("ok", (48, 64))


def _mpo(tmp):
    path = tmp / "camera.mpo.jpg"
    first, second = Image.fromarray(photo(48, 64, seed=1)), Image.fromarray(photo(48, 64, seed=2))
    first.save(path, format="MPO", save_all=True, append_images=[second])
    with Image.open(path) as check:
        assert check.format == "MPO" and check.n_frames == 2  # a real MPO, not a JPEG
    return path, ("ok", (48, 64))


def _png_named_jpg(tmp):
    return _save_pil(tmp / "liar.jpg", Image.fromarray(photo(32, 40)), format="PNG"), ("ok", (32, 40))


def _png16_gray(tmp):
    values = (np.arange(40 * 32, dtype=np.uint32).reshape(32, 40) * 50 % 65536).astype(">u2")
    return write(tmp / "gray16.png", png_bytes(40, 32, 16, 0, [r.tobytes() for r in values])), ("ok", (32, 40))


def _png16_rgb(tmp):
    values = photo(32, 40).astype(">u2") * 257
    return write(tmp / "rgb16.png", png_bytes(40, 32, 16, 2, [r.tobytes() for r in values])), ("ok", (32, 40))


def _tiff_float_gray(tmp):
    import tifffile

    values = np.linspace(0, 1, 32 * 40, dtype=np.float32).reshape(32, 40)
    tifffile.imwrite(tmp / "float.tif", values)
    return tmp / "float.tif", ("ok", (32, 40))


def _tiff_float_rgb(tmp):
    import tifffile

    tifffile.imwrite(tmp / "float_rgb.tif", photo(32, 40).astype(np.float32) / 255, photometric="rgb")
    return tmp / "float_rgb.tif", ("ok", (32, 40))


def _tiff_float_wide_range(tmp):
    import tifffile

    tifffile.imwrite(tmp / "hdr.tif", np.linspace(-5, 3000, 32 * 40, dtype=np.float32).reshape(32, 40))
    return tmp / "hdr.tif", ("ok", (32, 40))


def _tiff_float_nan(tmp):
    import tifffile

    values = np.full((32, 40), 0.5, np.float32)
    values[3, 3] = np.nan
    tifffile.imwrite(tmp / "nan.tif", values)
    return tmp / "nan.tif", ("error", "NaN")


def _tiff16(tmp):
    return _save_pil(tmp / "gray16.tif", Image.fromarray(np.full((32, 40), 40000, np.uint16))), ("ok", (32, 40))


def _tiff_unknown_tag(tmp):
    import tifffile

    tifffile.imwrite(tmp / "tagged.tif", photo(32, 40), photometric="rgb", extratags=[(65000, "s", 0, "hello", False)])
    return tmp / "tagged.tif", ("ok", (32, 40))


def _rgba_png(tmp):
    rgba = np.dstack([photo(32, 40), np.full((32, 40), 255, np.uint8)])
    rgba[:, :20, 3] = 0
    return _save_pil(tmp / "rgba.png", Image.fromarray(rgba)), ("ok", (32, 40))


def _la_png(tmp):
    la = np.dstack([np.full((32, 40), 10, np.uint8), np.full((32, 40), 255, np.uint8)])
    la[:, :20, 1] = 0
    return _save_pil(tmp / "la.png", Image.fromarray(la, "LA")), ("ok", (32, 40))


def _palette_png(tmp):
    image = Image.fromarray(np.tile((np.arange(40) >= 20).astype(np.uint8), (32, 1)), "P")  # left half: index 0
    image.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    return _save_pil(tmp / "palette.png", image, transparency=0), ("ok", (32, 40))


def _rgba16_png(tmp):
    rgba = np.zeros((32, 40, 4), ">u2")
    rgba[..., :3] = 1000
    rgba[:, 20:, 3] = 65535
    return write(tmp / "rgba16.png", png_bytes(40, 32, 16, 6, [r.tobytes() for r in rgba])), ("ok", (32, 40))


def _rotated_jpeg(tmp):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    return write(tmp / "rotated.jpg", jpeg_bytes(photo(48, 64), exif=exif.tobytes())), ("ok", (64, 48))


def _restart_markers_jpeg(tmp):
    return write(tmp / "restarts.jpg", jpeg_bytes(photo(48, 64), restart_marker_blocks=2)), ("ok", (48, 64))


def _cmyk_jpeg(tmp):
    return _save_pil(tmp / "cmyk.jpg", Image.fromarray(photo(48, 64)).convert("CMYK"), quality=90), ("ok", (48, 64))


def _jpeg_without_end_marker(tmp):
    data = jpeg_bytes(photo(48, 64))
    assert data.endswith(b"\xff\xd9")
    return write(tmp / "no_eoi.jpg", data[:-2]), ("ok", (48, 64))


def _bmp(tmp):
    return _save_pil(tmp / "photo.bmp", Image.fromarray(photo(32, 40))), ("ok", (32, 40))


def _webp(tmp):
    return _save_pil(tmp / "photo.webp", Image.fromarray(photo(32, 40)), lossless=True), ("ok", (32, 40))


def _pgm(tmp):
    return _save_pil(tmp / "photo.pgm", Image.fromarray(photo(32, 40)[..., 1])), ("ok", (32, 40))


def _smallest(tmp):
    return write(tmp / "eight.jpg", jpeg_bytes(photo(8, 8))), ("ok", (8, 8))


def _missing(tmp):
    return tmp / "nope.jpg", ("error", "no such file")


def _folder(tmp):
    (tmp / "album.jpg").mkdir()
    return tmp / "album.jpg", ("error", "folder")


def _fifo(tmp):
    os.mkfifo(tmp / "pipe.jpg")
    return tmp / "pipe.jpg", ("error", "not a regular file (a named pipe)")


def _socket(tmp):
    # AF_UNIX paths are limited to ~100 bytes: bind in a short temporary folder.
    folder = Path(tempfile.mkdtemp(prefix="sock"))
    path = folder / "s.png"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path, ("error", "not a regular file (a socket)")


def _char_device(tmp):
    return Path("/dev/zero"), ("error", "not a regular file (a character device)")


def _broken_link(tmp):
    (tmp / "dangling.jpg").symlink_to(tmp / "gone.jpg")
    return tmp / "dangling.jpg", ("error", "broken symbolic link")


def _empty(tmp):
    return write(tmp / "empty.png", b""), ("error", "empty file")


def _zero_byte_jpeg(tmp):
    return write(tmp / "zero.jpg", b""), ("error", "empty file")


def _text(tmp):
    return write(tmp / "notes.jpg", b"hello, I am not an image\n" * 4), ("error", "not an image file")


def _svg(tmp):
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"></svg>\n'
    return write(tmp / "drawing.png", svg), ("error", "unsupported image format SVG")


def _gif(tmp):
    return _save_pil(tmp / "anim.gif", Image.new("RGB", (32, 32), (200, 10, 10))), ("error", "unsupported image format GIF (use JPEG, PNG")


def _one_pixel(tmp):
    return _save_pil(tmp / "dot.png", Image.new("RGB", (1, 1))), ("error", "image is 1x1, too small")


def _tiny_jpeg(tmp):
    return write(tmp / "tiny.jpg", jpeg_bytes(photo(4, 6))), ("error", "too small")


def _huge_png_header(tmp):
    # 400 megapixels claimed; we must refuse from the header (size in the reason).
    return write(tmp / "huge.png", png_bytes(20000, 20000, 8, 0, [], idat=zlib.compress(b"\x00" * 100))), (
        "error",
        "image is 20000x20000, larger than the 100 megapixel limit",
    )


def _huge_jpeg_header(tmp):
    data = bytearray(jpeg_bytes(photo(16, 16)))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 15000, 15000)
    return write(tmp / "huge.jpg", bytes(data)), ("error", "image is 15000x15000, larger than the 100 megapixel limit")


def _big_header_truncated_jpeg(tmp):
    # 80 megapixels claimed (under the limit), a few hundred bytes of data.
    data = bytearray(jpeg_bytes(photo(16, 16)))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 8000, 10000)
    return write(tmp / "liar.jpg", bytes(data)), ("error", "corrupt or truncated")


def _big_header_truncated_png(tmp):
    idat = zlib.compress(b"\x00" + b"\x00" * 9000)[:-20]
    return write(tmp / "liar.png", png_bytes(9000, 9000, 8, 0, [], idat=idat)), ("error", "corrupt or truncated")


def _truncated_jpeg(tmp):
    return write(tmp / "cut.jpg", truncate_scan(jpeg_bytes(photo(48, 64)))), ("error", "corrupt or truncated")


def _truncated_jpeg_with_end_marker(tmp):
    # What a broken copy often looks like: data cut short, then FFD9 appended.
    data = truncate_scan(jpeg_bytes(photo(48, 64))) + b"\xff\xd9"
    return write(tmp / "cut_ffd9.jpg", data), ("error", "corrupt or truncated")


def _truncated_restart_jpeg_with_end_marker(tmp):
    data = truncate_scan(jpeg_bytes(photo(48, 64), restart_marker_blocks=2)) + b"\xff\xd9"
    return write(tmp / "cut_rst_ffd9.jpg", data), ("error", "corrupt or truncated")


def _truncated_gray_jpeg_with_end_marker(tmp):
    data = truncate_scan(jpeg_bytes(np.ascontiguousarray(photo(48, 64)[..., 0]))) + b"\xff\xd9"
    return write(tmp / "cut_gray_ffd9.jpg", data), ("error", "corrupt or truncated")


def _truncated_progressive(tmp):
    return write(tmp / "cut_progressive.jpg", truncate_scan(jpeg_bytes(photo(48, 64), progressive=True))), (
        "error",
        "corrupt or truncated",
    )


def _corrupt_huffman_table(tmp):
    data = bytearray(jpeg_bytes(photo(48, 64)))
    table = data.find(b"\xff\xc4")
    data[table + 5 : table + 21] = b"\xff" * 16  # code counts far beyond what 16 bits allow
    return write(tmp / "bad_huffman.jpg", bytes(data)), ("error", "corrupt or truncated")


def _zeros_in_scan(tmp):
    # Damaged sectors read back as zeros: the decoder loses step and runs out
    # of data early (libjpeg: "premature end of data segment").
    data = bytearray(jpeg_bytes(photo(96, 128)))
    middle = (data.find(b"\xff\xda") + len(data)) // 2
    data[middle : middle + 200] = bytes(200)
    return write(tmp / "zeros.jpg", bytes(data)), ("error", "corrupt or truncated")


def _extra_bytes_before_end_marker(tmp):
    # libjpeg: "Corrupt JPEG data: N extraneous bytes before marker 0xd9"; readable.
    data = jpeg_bytes(photo(48, 64))
    return write(tmp / "extra.jpg", data[:-2] + b"\x00" * 16 + data[-2:]), ("ok", (48, 64))


def _jpeg_signature_only(tmp):
    return write(tmp / "stub.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF"), ("error", "corrupt or truncated")


def _truncated_png(tmp):
    data = png_bytes(40, 32, 8, 2, [r.tobytes() for r in photo(32, 40)])
    return write(tmp / "cut.png", data[: len(data) // 2]), ("error", "corrupt or truncated")


def _png_bad_chunk_crc(tmp):
    data = png_bytes(40, 32, 8, 2, [r.tobytes() for r in photo(32, 40)])
    text = png_chunk(b"tEXt", b"Comment\x00hello")
    data = data[:33] + text[:-4] + b"\x00\x00\x00\x00" + data[33:]
    return write(tmp / "bad_crc.png", data), ("error", "corrupt or truncated")


def _truncated_tiff(tmp):
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, photo(64, 64).astype(np.float32), photometric="rgb")
    data = buffer.getvalue()
    return write(tmp / "cut.tif", data[: len(data) // 2]), ("error", "corrupt or truncated")


CASES = {
    builder.__name__.lstrip("_"): builder
    for builder in (
        _baseline_jpeg,
        _gray_jpeg,
        _progressive_jpeg,
        _trailer_jpeg,
        _mpo,
        _png_named_jpg,
        _png16_gray,
        _png16_rgb,
        _tiff_float_gray,
        _tiff_float_rgb,
        _tiff_float_wide_range,
        _tiff_float_nan,
        _tiff16,
        _tiff_unknown_tag,
        _rgba_png,
        _la_png,
        _palette_png,
        _rgba16_png,
        _rotated_jpeg,
        _restart_markers_jpeg,
        _cmyk_jpeg,
        _jpeg_without_end_marker,
        _bmp,
        _webp,
        _pgm,
        _smallest,
        _missing,
        _folder,
        _fifo,
        _socket,
        _char_device,
        _broken_link,
        _empty,
        _zero_byte_jpeg,
        _text,
        _svg,
        _gif,
        _one_pixel,
        _tiny_jpeg,
        _huge_png_header,
        _huge_jpeg_header,
        _big_header_truncated_jpeg,
        _big_header_truncated_png,
        _truncated_jpeg,
        _truncated_jpeg_with_end_marker,
        _truncated_restart_jpeg_with_end_marker,
        _truncated_gray_jpeg_with_end_marker,
        _truncated_progressive,
        _corrupt_huffman_table,
        _zeros_in_scan,
        _extra_bytes_before_end_marker,
        _jpeg_signature_only,
        _truncated_png,
        _png_bad_chunk_crc,
        _truncated_tiff,
    )
}


def _read_in_thread(path, timeout=10):
    """read_image in a daemon thread with a time limit: a hang fails the test instead of blocking it."""
    result = {}

    def target():
        try:
            result["image"] = read_image(path)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            result["error"] = error

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout)
    return worker.is_alive(), result


@pytest.mark.filterwarnings("error")  # a Python warning would be printed on stderr too
@pytest.mark.parametrize("case", sorted(CASES))
def test_every_input_kind(case, tmp_path, capfd):
    if case == "char_device" and not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    path, (outcome, expected) = CASES[case](tmp_path)
    capfd.readouterr()
    hung, result = _read_in_thread(path)
    if hung and path.is_fifo():
        _release_fifo(path)
    assert not hung, f"read_image({path.name}) did not return"
    if outcome == "ok":
        assert "error" not in result, result.get("error")
        image = result["image"]
        assert image.dtype == np.uint8 and image.shape == (*expected, 3)
        assert image.flags.c_contiguous and image.flags.writeable
    else:
        error = result.get("error")
        assert isinstance(error, ColorizeError), result
        message = str(error)
        assert "\n" not in message
        assert message.startswith(f"{path}: ") and expected in message, message
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""  # the library printed nothing


# --------------------------------------------------------------------------
# What the accepted kinds decode to


def test_formats_decode_to_the_same_pixels(tmp_path):
    rgb = photo(48, 64)
    lossless = {
        "png": _save_pil(tmp_path / "a.png", Image.fromarray(rgb)),
        "png named .jpg": _save_pil(tmp_path / "b.jpg", Image.fromarray(rgb), format="PNG"),
        "bmp": _save_pil(tmp_path / "c.bmp", Image.fromarray(rgb)),
        "tiff": _save_pil(tmp_path / "d.tif", Image.fromarray(rgb)),
        "webp": _save_pil(tmp_path / "e.webp", Image.fromarray(rgb), lossless=True),
        "ppm": _save_pil(tmp_path / "f.ppm", Image.fromarray(rgb)),
        "png 16 bit": write(tmp_path / "g.png", png_bytes(64, 48, 16, 2, [r.tobytes() for r in rgb.astype(">u2") * 257])),
        "float tiff": _tiff_of(tmp_path / "h.tif", rgb.astype(np.float32) / 255),
    }
    for name, path in lossless.items():
        np.testing.assert_array_equal(read_image(path), rgb, err_msg=name)
    # JPEG: the OpenCV path (baseline colour) and the Pillow paths agree with a plain decode.
    jpeg = write(tmp_path / "i.jpg", jpeg_bytes(rgb))
    reference = pillow_rgb(jpeg)
    assert np.abs(read_image(jpeg).astype(int) - reference).mean() < 1.0
    for options in ({"progressive": True}, {"restart_marker_blocks": 2}):
        other = write(tmp_path / "j.jpg", jpeg_bytes(rgb, **options))
        assert np.abs(read_image(other).astype(int) - pillow_rgb(other)).mean() < 1.0


def _tiff_of(path, array):
    import tifffile

    tifffile.imwrite(path, array, photometric="rgb" if array.ndim == 3 else "minisblack")
    return path


def test_mpo_gives_its_first_frame(tmp_path):
    path, _ = _mpo(tmp_path)
    first = pillow_rgb(path)  # Pillow opens an MPO on frame 0
    image = read_image(path)
    assert np.abs(image.astype(int) - first).mean() < 1.0
    assert np.abs(image.astype(int) - photo(48, 64, seed=2)).mean() > 3  # not the second frame


def test_sixteen_bit_and_float_samples_are_scaled(tmp_path):
    gray16 = write(tmp_path / "g.png", png_bytes(8, 8, 16, 0, [np.full(8, 257 * 100, ">u2").tobytes()] * 8))
    assert (read_image(gray16) == 100).all()
    assert (read_image(_save_pil(tmp_path / "t.tif", Image.fromarray(np.full((8, 8), 65535, np.uint16)))) == 255).all()
    half = _tiff_of(tmp_path / "f.tif", np.full((8, 8), 0.5, np.float32))
    assert (read_image(half) == 128).all()
    eight_bit_range = _tiff_of(tmp_path / "e.tif", np.full((8, 8), 200.0, np.float32))
    assert (read_image(eight_bit_range) == 200).all()
    notes = []
    wide = read_image(_tiff_of(tmp_path / "w.tif", np.linspace(-5, 3000, 64, dtype=np.float32).reshape(8, 8)), notes=notes)
    assert wide[0, 0, 0] == 0 and wide[-1, -1, 0] == 255
    assert notes and "stretched" in notes[0] and "-5" in notes[0]


@pytest.mark.parametrize("case", ["rgba_png", "la_png", "palette_png", "rgba16_png"])
def test_transparent_areas_become_white(case, tmp_path):
    path, _ = CASES[case](tmp_path)
    notes = []
    image = read_image(path, notes=notes)
    assert (image[:, :20] == 255).all()
    assert (image[:, 20:] < 255).any()  # the opaque part keeps its content
    assert notes == ["transparent areas were composited onto white"]


def test_partial_transparency_is_composited():
    pixel = np.array([[[100, 0, 200, 128]]], np.uint8).repeat(8, 0).repeat(8, 1)
    with tempfile.TemporaryDirectory() as folder:
        path = _save_pil(Path(folder) / "half.png", Image.fromarray(pixel))
        image = read_image(path)
    # c * a + 255 * (1 - a) with a = 128/255
    np.testing.assert_allclose(image[0, 0], [177, 127, 227], atol=1)


def test_exif_orientation_is_applied_the_same_by_every_decoder(tmp_path):
    rgb = photo(48, 64)
    exif = Image.Exif()
    exif[0x0112] = 6
    expected = np.rot90(rgb, k=-1)  # 90 degrees clockwise
    for name, options in (("baseline", {}), ("progressive", {"progressive": True}), ("restarts", {"restart_marker_blocks": 2})):
        path = write(tmp_path / f"{name}.jpg", jpeg_bytes(rgb, exif=exif.tobytes(), **options))
        stored = pillow_rgb(path)  # Pillow does not rotate
        image = read_image(path)
        assert image.shape == (64, 48, 3), name
        assert np.abs(image.astype(int) - np.rot90(stored, k=-1)).mean() < 1, name
    png = tmp_path / "rotated.png"
    Image.fromarray(rgb).save(png, exif=exif.tobytes())
    np.testing.assert_array_equal(read_image(png), expected)


def test_notes_report_unusual_but_readable_files(tmp_path):
    notes = []
    path, _ = _jpeg_without_end_marker(tmp_path)
    read_image(path, notes=notes)
    assert notes == ["the JPEG has no end marker (all image data is present)"]
    notes = []
    read_image(_extra_bytes_before_end_marker(tmp_path)[0], notes=notes)
    assert notes == ["the JPEG data has extra bytes inside the image data (it may be damaged)"]
    notes = []
    read_image(_baseline_jpeg(tmp_path)[0], notes=notes)
    assert notes == []


@pytest.mark.filterwarnings("error")  # a Python warning (Pillow's EXIF reader) would print too
@pytest.mark.parametrize("options", [{}, {"progressive": True}])
def test_damaged_exif_is_ignored_quietly(options, tmp_path, capfd):
    data = jpeg_bytes(photo(48, 64), exif=b"Exif\x00\x00MM\x00*\x00\x00\xff\xff\xff", **options)
    image = read_image(write(tmp_path / "bad_exif.jpg", data))
    assert image.shape == (48, 64, 3)
    assert capfd.readouterr().err == ""


def test_permission_denied(tmp_path, monkeypatch):
    path = write(tmp_path / "locked.jpg", jpeg_bytes(photo()))
    if os.geteuid() != 0:
        path.chmod(0)
    else:  # root reads anything: make the open itself fail as it would for a user
        real_open = os.open

        def refusing_open(name, *args, **kwargs):
            if Path(name) == path:
                raise PermissionError(13, "Permission denied", str(name))
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(ColorizeError, match="locked.jpg: permission denied"):
        read_image(path)


# --------------------------------------------------------------------------
# Special files: never opened, never listed


def _release_fifo(path):
    """Unblock a reader stuck in open() on ``path`` (opening the write end releases it)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


def test_fifo_is_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    try:
        hung, result = _read_in_thread(fifo, timeout=5)
        assert not hung, "read_image opened the FIFO and waited for a writer"
        assert "not a regular file" in str(result["error"])
    finally:
        _release_fifo(fifo)


def test_list_images_skips_special_files_and_survives_link_loops(tmp_path):
    root = tmp_path / "album"
    (root / "sub").mkdir(parents=True)
    good = [write(root / "a.jpg", jpeg_bytes(photo())), write(root / "sub" / "b.png", b"\x89PNG...")]
    os.mkfifo(root / "pipe.jpg")
    (root / "dangling.jpg").symlink_to(root / "missing.jpg")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)  # album/sub/loop -> album
    (root / "self.jpg").symlink_to(root / "self.jpg")  # a link to itself
    linked = root / "link.jpg"
    linked.symlink_to(good[0])  # a link to a regular file is listed
    found = {}
    worker = threading.Thread(target=lambda: found.setdefault("paths", list_images(root)), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "list_images did not finish"
    assert found["paths"] == sorted(good + [linked])


# --------------------------------------------------------------------------
# Threads and stderr


def _noisy_files(tmp_path):
    """Files whose decoding by OpenCV makes libjpeg, libpng or libtiff print, and two good ones."""
    return [
        _truncated_jpeg_with_end_marker(tmp_path)[0],
        _zeros_in_scan(tmp_path)[0],
        _extra_bytes_before_end_marker(tmp_path)[0],  # readable
        _png_bad_chunk_crc(tmp_path)[0],
        _truncated_png(tmp_path)[0],
        _truncated_tiff(tmp_path)[0],
        _tiff_unknown_tag(tmp_path)[0],  # readable
        _text(tmp_path)[0],
        _baseline_jpeg(tmp_path)[0],  # readable
    ]


def test_reading_in_threads_never_loses_main_thread_output(tmp_path, capfd):
    paths = _noisy_files(tmp_path)
    readable = {"extra.jpg", "tagged.tif", "photo.jpg"}
    capfd.readouterr()
    lines = []
    pool = ThreadPoolExecutor(max_workers=4)
    try:
        futures = [(path, pool.submit(_read_quietly, path)) for _ in range(15) for path in paths]
        deadline = time.monotonic() + 60
        index = 0
        # Keep printing while the workers decode (and at least 200 lines).
        while (not all(future.done() for _, future in futures) or index < 200) and time.monotonic() < deadline:
            line = f"main thread line {index}"
            if index % 2:
                print(line, file=sys.stderr, flush=True)
            else:
                os.write(2, (line + "\n").encode())  # straight to the descriptor, as C code would
            lines.append(line)
            index += 1
        for path, future in futures:
            assert future.result(timeout=1) == ("ok" if path.name in readable else "error"), path.name
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    assert capfd.readouterr().err.splitlines() == lines


def _read_quietly(path):
    try:
        read_image(path)
    except ColorizeError:
        return "error"
    return "ok"


def test_stderr_fd_silencer_is_a_noop_in_threads_and_when_fd2_is_closed(tmp_path, capfd):
    from colorize.runtime import silenced_stderr_fd

    def in_thread():
        with silenced_stderr_fd():
            os.write(2, b"still visible\n")

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join()
    assert "still visible" in capfd.readouterr().err
    code = (
        "import sys\n"
        "from colorize.runtime import silenced_stderr_fd\n"
        "with silenced_stderr_fd():\n"
        "    print('inside')\n"
        "from colorize.io import read_image\n"
        f"print(read_image({str(_baseline_jpeg(tmp_path)[0])!r}).shape)\n"
    )
    result = subprocess.run(
        ["sh", "-c", f'exec "{sys.executable}" -c "$0" 2>&-', code],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=120,
    )
    assert result.returncode == 0, result.stdout
    assert result.stdout.split() == ["inside", "(48,", "64,", "3)"]


# --------------------------------------------------------------------------
# Big images (slow)


@pytest.mark.slow
def test_real_400_megapixel_png_is_refused_by_its_size(tmp_path):
    # A complete, valid 20000 x 20000 gray PNG (400 MB of zeros, 400 KB compressed).
    compressor = zlib.compressobj(1)
    row = b"\x00" * 20001
    idat = b"".join(compressor.compress(row) for _ in range(20000)) + compressor.flush()
    path = write(tmp_path / "huge.png", png_bytes(20000, 20000, 8, 0, [], idat=idat))
    with pytest.raises(ColorizeError, match="20000x20000, larger than the 100 megapixel limit"):
        read_image(path)
    assert Image.MAX_IMAGE_PIXELS == 89478485 or Image.MAX_IMAGE_PIXELS is None  # untouched (Pillow default)


_PEAK_SCRIPT = """
import resource, sys, numpy as np
from colorize.io import read_image
def rss(field):
    for line in open('/proc/self/status'):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
before = rss('VmRSS:')
with open('/proc/self/clear_refs', 'w') as handle:
    handle.write('5')  # reset the peak (VmHWM) to the current RSS
image = read_image(sys.argv[1])
print(image.shape, image.nbytes, rss('VmHWM:') - before)
"""


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["colour", "gray"])
def test_99_megapixel_jpeg_is_read_without_extra_full_size_copies(kind, tmp_path):
    height, width = 8600, 11500
    yy, xx = np.mgrid[0:height:8, 0:width:8]
    small = np.stack([xx % 256, yy % 256, (xx + yy) % 256], -1).astype(np.uint8)
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    if kind == "gray":
        big = big[..., 0]
    path = tmp_path / f"big_{kind}.jpg"
    assert cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    del big
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    shape, nbytes, peak = result.stdout.rsplit(maxsplit=2)
    assert shape == f"({height}, {width}, 3)" and width * height < MAX_PIXELS
    # The RGB result (297 MB) plus, for gray, Pillow's 1-byte plane and the file's bytes.
    limit = 1.15 if kind == "colour" else 1.45
    assert int(peak) < limit * int(nbytes), (kind, int(peak) / 2**20, int(nbytes) / 2**20)
