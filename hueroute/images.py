"""Image reading and writing with clear errors; PIL's "L" luma."""

import io
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from hueroute.errors import InputError
from hueroute.files import write_bytes_atomic

DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError)


def open_image(path: str | Path, content: bytes | None = None) -> Image.Image:
    """Open and fully decode an image (from `content`, the file's bytes, where they have been
    read already), turning every failure into an InputError."""
    path = Path(path)
    if content is None and not path.is_file():
        raise InputError(path, "no such file")
    try:
        with Image.open(path if content is None else io.BytesIO(content)) as image:
            image.load()
            return image.copy()
    except (Image.DecompressionBombError, *DECODE_ERRORS) as error:
        raise InputError(path, f"is not a readable image ({error})") from error


def image_shape(path: str | Path, content: bytes) -> tuple[int, int]:
    """(height, width) of an image from its file's bytes, reading only its header."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            return image.height, image.width
    except DECODE_ERRORS as error:
        raise InputError(path, f"is not a readable image ({error})") from error


def read_rgb(path: str | Path) -> np.ndarray:
    """An H x W x 3 uint8 array of a colour image."""
    image = open_image(path)
    if image.mode not in {"RGB", "RGBA", "P", "L", "CMYK", "YCbCr"}:
        raise InputError(path, f"has unsupported mode {image.mode}")
    return np.asarray(image.convert("RGB"))


def read_gray(path: str | Path, content: bytes | None = None) -> np.ndarray:
    """An H x W uint8 array of a single-channel image (RGB with equal channels is accepted);
    decoded from `content` where the file's bytes have been read already."""
    image = open_image(path, content)
    if image.mode == "L":
        return np.asarray(image)
    if image.mode in {"RGB", "RGBA"}:
        rgb = np.asarray(image.convert("RGB"))
        if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
            return rgb[..., 0].copy()
    raise InputError(path, f"is not a single-channel gray image (mode {image.mode})")


def luma(rgb: np.ndarray) -> np.ndarray:
    """PIL's convert("L") of an RGB array: Y = (299 R + 587 G + 114 B) / 1000."""
    return np.array(Image.fromarray(rgb, "RGB").convert("L"))


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def write_png(path: str | Path, array: np.ndarray) -> None:
    """Write a uint8 gray (H x W) or RGB (H x W x 3) array as PNG, atomically."""
    write_bytes_atomic(path, png_bytes(np.ascontiguousarray(array, dtype=np.uint8)))
