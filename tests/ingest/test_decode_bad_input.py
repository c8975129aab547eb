"""decode_photo on bad and unusual input: each ends as a PhotoError with a readable reason, or
is decoded correctly where it is valid. Real files (and a FIFO, links, a locked file)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from photod.errors import PhotoError
from photod.ingest.decode import DecodeLimits, decode_photo

LIMITS = DecodeLimits(working_size=256)


def noise_photo(path: Path, size=(800, 600), **kw) -> Path:
    arr = np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, **kw)
    return path


def reason(path: Path, limits: DecodeLimits = LIMITS) -> str:
    with pytest.raises(PhotoError) as info:
        decode_photo(path, limits)
    assert info.value.stage == "ingest"
    return str(info.value)


def png_bytes(width: int, height: int, depth: int, colour: int, raw: bytes) -> bytes:
    """A PNG written by hand, for what PIL cannot write (16-bit RGB, absurd dimensions)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_file(tmp_path: Path, suffix: str) -> None:
    full = noise_photo(tmp_path / f"full{suffix}")
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert "truncated or corrupt" in reason(cut)


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.jpg").touch()
    assert reason(tmp_path / "empty.jpg") == "empty file (0 bytes)"


def test_png_named_jpg_is_valid(tmp_path: Path) -> None:
    path = noise_photo(tmp_path / "really-a-png.jpg", size=(320, 240), format="PNG")
    decoded = decode_photo(path, LIMITS)
    assert decoded.info.format == "PNG"
    assert (decoded.info.width, decoded.info.height) == (320, 240)


def test_text_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("shopping list: milk, eggs\n")
    assert "not a recognised image format" in reason(path)


def test_pil_decompression_bomb(tmp_path: Path) -> None:
    # 20000 x 20000 = 400 MP: over PIL's own refusal threshold, whatever photod allows.
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bytes(20000, 20000, 8, 0, b"\x00" * 1000))
    assert "decompression bomb" in reason(path, DecodeLimits(max_pixels=10**12))


def test_photod_max_pixels(tmp_path: Path) -> None:
    path = noise_photo(tmp_path / "big.png", size=(200, 100))
    text = reason(path, DecodeLimits(max_pixels=10_000))
    assert "too large" in text and "200x100" in text


def test_file_over_max_bytes(tmp_path: Path) -> None:
    path = noise_photo(tmp_path / "big.png", size=(200, 100))
    assert "file too large" in reason(path, DecodeLimits(max_bytes=1000))


def test_cmyk_jpeg_keeps_its_colours(tmp_path: Path) -> None:
    colours = [(220, 30, 30), (30, 200, 40), (30, 40, 210), (250, 250, 250), (10, 10, 10)]
    arr = np.zeros((64, 64 * len(colours), 3), dtype=np.uint8)
    for i, c in enumerate(colours):
        arr[:, i * 64 : (i + 1) * 64] = c
    path = tmp_path / "cmyk.jpg"
    Image.fromarray(arr).convert("CMYK").save(path, quality=95)
    assert Image.open(path).mode == "CMYK"

    img = decode_photo(path, DecodeLimits(working_size=1024)).image

    assert img.mode == "RGB"
    for i, c in enumerate(colours):
        got = img.getpixel((i * 64 + 32, 32))
        assert all(abs(g - e) <= 12 for g, e in zip(got, c, strict=True)), (got, c)


def test_16_bit_greyscale_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    ramp = np.linspace(0, 65535, 256).round().astype(np.uint16)
    path = tmp_path / "grey16.png"
    Image.fromarray(np.tile(ramp, (16, 1))).save(path)
    assert Image.open(path).mode == "I;16"

    img = decode_photo(path, DecodeLimits(working_size=1024)).image

    row = np.asarray(img)[8, :, 0].astype(int)
    assert np.all(np.abs(row - np.arange(256)) <= 1)  # 16-bit value v becomes v / 257


def test_16_bit_rgb_png(tmp_path: Path) -> None:
    pixel = np.array([65535, 32896, 257], dtype=">u2")  # 8-bit (255, 128, 1) widened
    rows = b"".join(b"\x00" + np.tile(pixel, 8).tobytes() for _ in range(8))
    path = tmp_path / "rgb16.png"
    path.write_bytes(png_bytes(8, 8, 16, 2, rows))
    decoded = decode_photo(path, LIMITS)
    assert decoded.image.getpixel((3, 3)) == (255, 128, 1)


def test_16_bit_rgb_tiff(tmp_path: Path) -> None:
    tifffile = pytest.importorskip("tifffile")
    arr = np.zeros((8, 8, 3), dtype=np.uint16)
    arr[...] = (65535, 32896, 257)
    path = tmp_path / "rgb16.tif"
    tifffile.imwrite(path, arr, photometric="rgb")
    decoded = decode_photo(path, LIMITS)
    assert decoded.info.format == "TIFF"
    assert decoded.image.getpixel((3, 3)) == (255, 128, 1)


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_with_transparency_on_white(tmp_path: Path, suffix: str) -> None:
    img = Image.new("P", (20, 10), 0)
    img.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    img.paste(1, (10, 0, 20, 10))
    path = tmp_path / f"pal{suffix}"
    img.save(path, transparency=0)

    out = decode_photo(path, LIMITS).image

    assert out.getpixel((2, 5)) == (255, 255, 255)  # transparent: white, not black
    assert out.getpixel((15, 5)) == (200, 30, 30)


def test_rgba_is_composited_over_white(tmp_path: Path) -> None:
    arr = np.zeros((10, 30, 4), dtype=np.uint8)
    arr[:, 10:20] = (200, 30, 30, 255)
    arr[:, 20:30] = (0, 0, 0, 128)
    path = tmp_path / "alpha.png"
    Image.fromarray(arr, mode="RGBA").save(path)

    out = decode_photo(path, LIMITS).image

    assert out.getpixel((5, 5)) == (255, 255, 255)
    assert out.getpixel((15, 5)) == (200, 30, 30)
    assert all(abs(v - 127) <= 2 for v in out.getpixel((25, 5)))


def test_corrupt_exif_block_keeps_the_picture(tmp_path: Path) -> None:
    good = noise_photo(tmp_path / "good.jpg", size=(64, 48))
    data = good.read_bytes()
    payload = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + b"\x00" * 7 + b"garbage"
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    path = tmp_path / "bad-exif.jpg"
    path.write_bytes(data[:2] + app1 + data[2:])

    with pytest.warns(UserWarning, match="Corrupt EXIF"):  # PIL says so; photod goes on
        decoded = decode_photo(path, LIMITS)

    assert (decoded.info.width, decoded.info.height) == (64, 48)
    assert decoded.info.orientation == 1 and decoded.info.taken_at is None


def test_symlink_loop(tmp_path: Path) -> None:
    os.symlink(tmp_path / "b.jpg", tmp_path / "a.jpg")
    os.symlink(tmp_path / "a.jpg", tmp_path / "b.jpg")
    assert "symbolic link loop" in reason(tmp_path / "a.jpg")


def test_broken_symlink(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.jpg", tmp_path / "link.jpg")
    assert "broken symbolic link" in reason(tmp_path / "link.jpg")


def test_directory_named_like_a_photo(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").mkdir()
    assert reason(tmp_path / "x.jpg") == "not a photo file: a directory"


def test_fifo_named_like_a_photo_does_not_block(tmp_path: Path) -> None:
    fifo = tmp_path / "x.jpg"
    os.mkfifo(fifo)
    result: list[BaseException | None] = []

    def attempt() -> None:
        try:
            decode_photo(fifo, LIMITS)
            result.append(None)
        except BaseException as exc:
            result.append(exc)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout=5)
    if worker.is_alive():  # unblock the thread before failing, so the test run can end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("decoding a FIFO blocked")
    assert isinstance(result[0], PhotoError)
    assert str(result[0]) == "not a photo file: a named pipe (FIFO)"


UNPRIVILEGED_DECODE = """
import json, os, sys
from PIL import Image
from photod.errors import PhotoError
from photod.ingest.decode import DecodeLimits, decode_photo
Image.init()  # import every PIL plugin while the interpreter's files are still readable
if os.geteuid() == 0:  # root reads everything: become 'nobody' for a real denial
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
out = {}
for path in sys.argv[1:]:
    try:
        out[path] = "ok:" + decode_photo(path, DecodeLimits()).info.format
    except PhotoError as exc:
        out[path] = str(exc)
print(json.dumps(out))
"""


def test_unreadable_file(tmp_path: Path) -> None:
    # pytest's tmp_path is private to root; the unprivileged reader needs a folder it can
    # enter, so a readable control photo beside the locked one proves the file is the cause.
    folder = Path(tempfile.mkdtemp(prefix="photod-perm-"))
    try:
        folder.chmod(0o711)
        readable = noise_photo(folder / "readable.jpg", size=(32, 32))
        readable.chmod(0o644)
        locked = noise_photo(folder / "locked.jpg", size=(32, 32))
        locked.chmod(0o000)
        proc = subprocess.run(
            [sys.executable, "-c", UNPRIVILEGED_DECODE, str(readable), str(locked)],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out[str(readable)] == "ok:JPEG"
        assert out[str(locked)].startswith("permission denied")
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()


def test_an_error_names_the_file_version_it_read(tmp_path):
    """The failure is about the bytes that were read: a photo still being copied can be
    empty when read and complete a moment later, and the complete version must be tried."""
    empty = tmp_path / "copying.jpg"
    empty.touch()
    st = empty.stat()
    with pytest.raises(PhotoError) as info:
        decode_photo(empty, LIMITS)
    assert info.value.version == (0, st.st_mtime_ns)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"not a photo at all" * 10)
    st = garbage.stat()
    with pytest.raises(PhotoError) as info:  # fails in the decoder, after the read
        decode_photo(garbage, LIMITS)
    assert info.value.version == (180, st.st_mtime_ns)
    with pytest.raises(PhotoError) as info:  # never opened: no version
        decode_photo(tmp_path / "absent.jpg", LIMITS)
    assert info.value.version is None
