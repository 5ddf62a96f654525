"""Piles of image files made from Fashion-MNIST, for the tests: every format, mode and
size a user's folder may hold, nested folders, hidden files, a link loop, and broken files
of every kind the loader must skip."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from helpers.data.fashion_mnist import CLASS_NAMES

# Fashion-MNIST's class names as folder names ("T-shirt/top" cannot be one)
FOLDER_NAMES = [name.replace("/", "-") for name in CLASS_NAMES]

# how the i-th good image is written: (sub-folder, file name pattern, writer)
VARIANTS = ("png_l", "jpeg_rgb_wide", "bmp", "gif", "tiff16", "webp_rgba", "png_p_alpha", "cmyk")


def _write(image: np.ndarray, path: Path, variant: str) -> None:
    """One 28x28 uint8 image, written as ``variant``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    grey = Image.fromarray(image, "L")
    if variant == "png_l":
        grey.save(path, "PNG")
    elif variant == "jpeg_rgb_wide":  # another size and aspect ratio, colour
        grey.convert("RGB").resize((42, 28)).save(path, "JPEG", quality=95)
    elif variant == "bmp":
        grey.resize((56, 56)).save(path, "BMP")
    elif variant == "gif":
        frames = [grey.convert("P"), Image.new("P", (28, 28), 0)]
        frames[0].save(path, "GIF", save_all=True, append_images=frames[1:])
    elif variant == "tiff16":
        Image.fromarray(image.astype(np.uint16) * 257).save(path, "TIFF")
    elif variant == "webp_rgba":
        rgba = grey.convert("RGBA")
        rgba.putalpha(Image.fromarray(np.where(image > 0, 255, 0).astype(np.uint8)))
        rgba.save(path, "WEBP", lossless=True)
    elif variant == "png_p_alpha":
        p = grey.convert("P")
        p.info["transparency"] = 0
        p.save(path, "PNG", transparency=0)
    elif variant == "cmyk":
        grey.convert("RGB").convert("CMYK").save(path, "JPEG", quality=95)
    else:
        raise ValueError(variant)


SUFFIX = {
    "png_l": ".png",
    "jpeg_rgb_wide": ".jpg",
    "bmp": ".bmp",
    "gif": ".gif",
    "tiff16": ".tif",
    "webp_rgba": ".webp",
    "png_p_alpha": ".png",
    "cmyk": ".JPG",
}


def write_good_images(root: Path, images: np.ndarray, labels=None) -> list[str]:
    """Each image in a variant of its own, spread over nested folders; returns the
    relative paths, in the order of ``images``."""
    paths = []
    for i, image in enumerate(images):
        variant = VARIANTS[i % len(VARIANTS)]
        rel = f"batch{i % 3}/{'deep/' if i % 5 == 0 else ''}img{i:05d}{SUFFIX[variant]}"
        _write(image, root / rel, variant)
        paths.append(rel)
    return paths


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def huge_png_header(width: int = 50_000, height: int = 50_000) -> bytes:
    """A small, well-formed PNG whose header claims ``width`` x ``height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def write_bad_files(root: Path, sample: np.ndarray) -> dict[str, str]:
    """Files the loader must skip, and a word each reason must contain."""
    root.mkdir(parents=True, exist_ok=True)
    jpeg = io.BytesIO()
    Image.fromarray(sample, "L").resize((200, 200)).save(jpeg, "JPEG")
    bad = {
        "empty.png": (b"", "empty"),
        "truncated.jpg": (jpeg.getvalue()[: len(jpeg.getvalue()) // 3], "truncated"),
        "text.png": (b"hello, I am not a picture\n", "not an image"),
        "huge.png": (huge_png_header(), "megapixels"),
        "unknown.tif": (bytes(range(256)) * 8, "not an image"),
    }
    for name, (content, _) in bad.items():
        (root / name).write_bytes(content)
    return {name: word for name, (_, word) in bad.items()}


def write_clutter(root: Path, sample: np.ndarray) -> None:
    """What a real folder also holds: hidden files and folders, notes, a link loop."""
    Image.fromarray(sample, "L").save(root / ".hidden.png")
    (root / ".cache").mkdir(exist_ok=True)
    Image.fromarray(sample, "L").save(root / ".cache" / "thumb.png")
    (root / "notes.txt").write_text("shot on Tuesday\n")
    (root / "loop").symlink_to(root, target_is_directory=True)


def write_class_folders(root: Path, images: np.ndarray, labels: np.ndarray, names) -> None:
    """Examples laid out one sub-folder per class, as PNG."""
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        folder = root / names[int(label)].replace("/", "-")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image, "L").save(folder / f"ex{i:03d}.png")


def write_truth(path: Path, rel_paths: list[str], labels: np.ndarray, names) -> None:
    lines = ["path,label"] + [
        f"{p},{names[int(c)].replace('/', '-')}" for p, c in zip(rel_paths, labels, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")
