"""One image file: decoded by its content and fitted to the model's size, or the reason in
words why it cannot be.

An image file is one whose name ends in an extension Pillow reads pixels from
(``IMAGE_SUFFIXES``, any case: PNG, JPEG, GIF, TIFF, WebP, BMP, PGM/PPM/PBM, AVIF, QOI, ICO,
TGA, JPEG 2000, MPO, PSD and more, and HEIC/HEIF through ``pillow-heif``); it is then decoded
by content, so a JPEG named ``.png`` reads and a text file named ``.png`` is skipped. Only
regular files are opened (a FIFO, socket or device named ``.png`` is skipped: reading one
could wait forever).

Memory per image is bounded whatever a header claims: at most ``MAX_PIXELS`` are decoded,
and fitting resizes before it pads, so no canvas is larger than the decoded image or the
model's input. The worst case per decoding thread is about 11 bytes per claimed pixel (the
decoded image, one converted copy and the resized one): about 1.1 GB at ``MAX_PIXELS``.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

# Formats Pillow registers that are not pixel images it can decode alone: documents and
# vector pictures (PDF is write-only, EPS needs Ghostscript, WMF Windows), stubs for
# scientific containers (BUFR, GRIB, HDF5), MPEG (identified, never decoded), Palm
# (write-only) and IPTC (metadata).
NOT_PIXEL_FORMATS = frozenset({"PDF", "EPS", "WMF", "BUFR", "GRIB", "HDF5", "MPEG", "PALM", "IPTC"})


def _pillow_suffixes() -> tuple[str, ...]:
    """The extensions of every format Pillow (and pillow-heif, when installed) decodes."""
    from PIL import Image

    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:  # HEIC stays out; everything else reads
        pass
    formats = Image.registered_extensions()
    return tuple(sorted(ext for ext, fmt in formats.items() if fmt not in NOT_PIXEL_FORMATS))


IMAGE_SUFFIXES = _pillow_suffixes()
MAX_PIXELS = 100_000_000  # a header claiming more is refused before decoding (a photo: 12-50 M)
Color = Literal["grey", "rgb"]
Fit = Literal["pad", "crop", "stretch"]
COLORS = ("grey", "rgb")
FITS = ("pad", "crop", "stretch")


@dataclass(frozen=True)
class ImageFormat:
    """How every image becomes a model input: ``size`` x ``size`` pixels, grey or RGB,
    aspect ratio kept by padding with the border colour (``pad``), or ``crop`` (centre)
    or ``stretch``."""

    size: int = 28  # the tutorial's model; any multiple of 4 builds the same architecture
    color: Color = "grey"
    fit: Fit = "pad"

    def __post_init__(self):
        if self.size < 4 or self.size % 4:
            raise ValueError(
                f"image size must be a multiple of 4 (the model halves it twice), not {self.size}"
            )
        if self.color not in COLORS:
            raise ValueError(f"color must be one of {COLORS}, not {self.color!r}")
        if self.fit not in FITS:
            raise ValueError(f"fit must be one of {FITS}, not {self.fit!r}")

    @property
    def channels(self) -> int:
        return 3 if self.color == "rgb" else 1

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.size, self.size, self.channels)


DEFAULT_FORMAT = ImageFormat()  # 28x28 grey, padded: the tutorial's input


class UnreadableImage(ValueError):
    """One file could not be decoded; the message says why, in words."""


def read_image(
    path: str | os.PathLike, fmt: ImageFormat = ImageFormat(), data: bytes | None = None
) -> tuple[np.ndarray, dict]:
    """One file as uint8 (size, size, channels), and what it was (original size and mode).

    EXIF-rotated photos are turned upright, the first frame of an animation is taken,
    transparent pixels go onto white, 16-bit greyscale is scaled down, not clipped.
    ``data``: the file's bytes, already read (a worker of a cluster gets them so), decoded
    exactly as the file would be. Raises ``UnreadableImage`` with the reason in words.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if data is None and (reason := not_a_regular_file(path)):
        raise UnreadableImage(reason)
    try:
        with Image.open(path if data is None else io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > MAX_PIXELS:
                raise UnreadableImage(
                    f"header claims {width} x {height} pixels, over the limit of "
                    f"{MAX_PIXELS // 1_000_000} megapixels"
                )
            info = {"width": width, "height": height, "mode": img.mode, "format": img.format}
            if img.format == "JPEG":  # decode at a reduced scale when the file is large
                img.draft(img.mode, (fmt.size * 2, fmt.size * 2))
            img.load()
            img = ImageOps.exif_transpose(img)
            pixels = _fitted(_to_8bit(img, fmt.color), fmt)
    except UnreadableImage:
        raise
    except FileNotFoundError as err:
        raise UnreadableImage("the file vanished before it could be read") from err
    except PermissionError as err:
        raise UnreadableImage("no permission to read the file") from err
    except UnidentifiedImageError as err:
        empty = len(data) == 0 if data is not None else path.is_file() and not path.stat().st_size
        raise UnreadableImage(
            "empty file (0 bytes)" if empty else "not an image Pillow can read"
        ) from err
    except Image.DecompressionBombError as err:  # Pillow's own guard, at open
        limit = MAX_PIXELS // 1_000_000
        raise UnreadableImage(
            f"header claims too many pixels, over {limit} megapixels ({err})"
        ) from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise UnreadableImage(f"broken or truncated image ({err})") from err
    return pixels, info


FILE_KINDS = {
    stat.S_ISFIFO: "a FIFO",
    stat.S_ISSOCK: "a socket",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISDIR: "a folder",
}


def not_a_regular_file(path: str | os.PathLike) -> str | None:
    """Why ``path`` must not be opened, in words, or None for a regular file (after following
    links): reading a FIFO or a device can block forever or never end."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return (
            "a link to nothing"
            if os.path.islink(path)
            else "the file vanished before it could be read"
        )
    except OSError as err:
        return f"cannot look at the file ({err.strerror or err})"
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in FILE_KINDS.items() if test(mode)), "something else")
    return f"not a regular file ({kind})"


def _to_8bit(img, color: Color):
    """8-bit L or RGB, transparency onto white."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(img, np.float32)
        top = 65535.0 if img.mode.startswith("I;16") or values.max() > 255 else 255.0
        img = Image.fromarray(np.clip(values / top * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return img.convert("RGB" if color == "rgb" else "L")


def _fitted(img, fmt: ImageFormat) -> np.ndarray:
    """The image at ``fmt.size`` square: cropped, stretched, or resized to fit and then padded
    with its border's colour (the canvas is the model's size, never the image's)."""
    from PIL import Image

    width, height = img.size
    size = fmt.size
    if fmt.fit == "crop":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        img = img.crop((left, top, left + side, top + side))
    elif fmt.fit == "pad" and width != height:
        fill = _border_colour(img)
        scale = size / max(width, height)
        inner = (max(1, round(width * scale)), max(1, round(height * scale)))
        img = img.resize(inner, Image.Resampling.LANCZOS, reducing_gap=3.0)
        canvas = Image.new(img.mode, (size, size), fill[0] if img.mode == "L" else fill)
        canvas.paste(img, ((size - inner[0]) // 2, (size - inner[1]) // 2))
        img = canvas
    if img.size != (size, size):
        img = img.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = np.asarray(img, np.uint8)
    return out[..., None] if out.ndim == 2 else out


def _border_colour(img) -> tuple[int, ...]:
    """The median colour of the image's outermost rows and columns."""
    width, height = img.size
    edges = [img.crop(box) for box in ((0, 0, width, 1), (0, height - 1, width, height))]
    edges += [img.crop(box) for box in ((0, 0, 1, height), (width - 1, 0, width, height))]
    channels = len(img.getbands())
    border = np.concatenate([np.asarray(e).reshape(-1, channels) for e in edges])
    return tuple(int(v) for v in np.median(border, axis=0))
