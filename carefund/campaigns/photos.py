"""Campaign photos as they are kept: an upload is proved to be a photo, turned upright, scaled down and re-encoded
as a JPEG with no metadata (no camera, time or GPS position of where a child lives). Pure: bytes in, bytes out."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from carefund.campaigns import rules
from carefund.core.errors import ValidationError

# Pillow's names of what is accepted. Many phones write a JPEG with a second, smaller picture after the first
# (Multi-Picture Format), which Pillow names MPO: it is a JPEG to the person sending it, and only the first picture
# is kept.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP"})
ACCEPTED_NAMES = "JPEG, PNG or WebP"


@dataclass(frozen=True)
class PreparedPhoto:
    jpeg: bytes
    width: int
    height: int


def prepare_photo(data: bytes) -> PreparedPhoto:
    """The photo to keep, or a ValidationError (field "image") that says what to send instead."""
    if not data:
        raise ValidationError("image: choose a photo to upload.", field="image")
    if problem := rules.photo_size_problem(len(data)):
        raise ValidationError(problem, field="image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                kind = probe.format or ""
                if kind not in ACCEPTED_FORMATS:
                    raise ValidationError(
                        f"image: a {kind or 'file of this kind'} is not accepted; send a {ACCEPTED_NAMES} photo "
                        "(on an iPhone, a HEIC photo can be shared or exported as JPEG).",
                        field="image",
                    )
                if probe.width * probe.height > rules.PHOTO_MAX_PIXELS:
                    raise ValidationError(
                        f"image: {probe.width} x {probe.height} pixels is more than "
                        f"{rules.PHOTO_MAX_PIXELS // 1_000_000} million; send a smaller photo.",
                        field="image",
                    )
                probe.verify()  # the file's structure, before decoding it
            with Image.open(io.BytesIO(data)) as image:
                image.load()
                upright = ImageOps.exif_transpose(image)
    except ValidationError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError(
            f"image: this file is not a photo carefund can read ({ACCEPTED_NAMES}).", field="image"
        ) from None
    except (OSError, SyntaxError, ValueError):
        raise ValidationError("image: this photo is damaged or cut short; send it again.", field="image") from None
    try:
        if upright.mode != "RGB":
            # transparency becomes white, as the page's background
            rgba = upright.convert("RGBA")
            upright = Image.new("RGB", rgba.size, (255, 255, 255))
            upright.paste(rgba, mask=rgba.getchannel("A"))
        upright.thumbnail((rules.PHOTO_MAX_SIDE, rules.PHOTO_MAX_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        # saved without exif, icc or comment: nothing of the original file but its pixels
        upright.save(out, format="JPEG", quality=rules.PHOTO_JPEG_QUALITY, optimize=True, progressive=True)
    except (OSError, ValueError):
        raise ValidationError(
            f"image: this photo's colours could not be converted for the web; save it as an ordinary {ACCEPTED_NAMES} "
            "photo and send it again.",
            field="image",
        ) from None
    return PreparedPhoto(jpeg=out.getvalue(), width=upright.width, height=upright.height)
