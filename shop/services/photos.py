"""Device photos: checked by opening them, turned upright, stripped of metadata, stored as small
WebP variants under server-made names, and served with long cache headers."""

import io
import re
import secrets
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from PIL import Image, ImageOps, UnidentifiedImageError

from shop.extensions import db
from shop.models import Device, DevicePhoto
from shop.models.types import utcnow
from shop.services import audit, stock_version, tx
from shop.services.errors import DomainError, NotFound

ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_BYTES = 10 * 1024 * 1024
# A photo larger than this (in pixels) is refused before it is decoded: a small file may
# declare a huge image (a "decompression bomb") and eat the server's memory.
MAX_PIXELS = 40_000_000
MAX_PHOTOS = 8
# Variant name → width in pixels (never enlarged). Each variant is kept under VARIANT_BUDGET bytes
# by lowering the WebP quality step by step: small pages for people on metered phone plans.
VARIANTS = {"small": 320, "large": 800}
VARIANT_BUDGET = 58 * 1024
QUALITIES = (80, 65, 50, 35)
NAME = re.compile(r"^[A-Za-z0-9_-]{22}-(?:320|800)\.webp$")


@dataclass(frozen=True)
class Variant:
    width: int
    height: int
    data: bytes


def folder() -> Path:
    path = Path(current_app.config.get("UPLOAD_FOLDER") or Path(current_app.instance_path) / "uploads")
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_bytes() -> int:
    return current_app.config.get("PHOTO_MAX_BYTES", MAX_BYTES)


def file_name(token: str, width: int) -> str:
    """The file of one variant; `width` is the variant's nominal width (see VARIANTS)."""
    return f"{token}-{width}.webp"


def is_variant_name(name: str) -> bool:
    """Only names the server itself makes: no path, no dots but the extension's."""
    return bool(NAME.fullmatch(name or ""))


def _refuse_not_an_image():
    return DomainError(_l("This file is not a photo we can use. Please send a JPEG, PNG or WebP image."),
                       field="photo")


def _open(data: bytes) -> Image.Image:
    """The decoded, upright image, or a refusal for anything that is not a sane JPEG, PNG or WebP."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise _refuse_not_an_image()
            if image.width * image.height > MAX_PIXELS:
                raise DomainError(_l("This photo has too many pixels. Please send a smaller one."), field="photo")
            if image.format == "JPEG":  # decode at a reduced scale: much faster, as sharp once resized
                image.draft("RGB", (max(VARIANTS.values()), max(VARIANTS.values())))
            image.load()
            return ImageOps.exif_transpose(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DomainError(_l("This photo has too many pixels. Please send a smaller one."), field="photo") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise _refuse_not_an_image() from None


def make_variants(data: bytes) -> dict[str, Variant]:
    """The WebP variants of an uploaded photo, with no EXIF, XMP or colour profile left in them."""
    if len(data) > max_bytes():
        raise DomainError(_l("This photo is too large (at most %(mb)d MB).", mb=max_bytes() // (1024 * 1024)),
                          field="photo")
    if not data:
        raise DomainError(_l("Please choose a photo."), field="photo")
    image = _open(data)
    has_alpha = image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "RGB")
    variants = {}
    for name, width in VARIANTS.items():
        scaled = image.copy()
        scaled.thumbnail((min(width, image.width), image.height), Image.Resampling.LANCZOS)
        scaled.info.clear()  # nothing of the original's metadata goes along
        variants[name] = _encode_within_budget(scaled)
    return variants


def _encode_within_budget(image: Image.Image) -> Variant:
    """WebP at the best quality that fits the budget; an image too grainy to fit even at the lowest
    quality (pure noise, say) is made a little smaller until it fits."""
    while True:
        for quality in QUALITIES:
            out = io.BytesIO()
            image.save(out, "WEBP", quality=quality, method=4)
            if out.tell() <= VARIANT_BUDGET:
                return Variant(image.width, image.height, out.getvalue())
        image = image.resize((max(1, image.width * 4 // 5), max(1, image.height * 4 // 5)),
                             Image.Resampling.LANCZOS)


def add_photo(device: Device, data: bytes, *, actor) -> DevicePhoto:
    """Check, convert and store one photo of a device; the original file is never kept."""
    if not device.editable:
        raise DomainError(_l("This device is reserved or sold: it can no longer be changed."), field="photo")
    count = db.session.scalar(sa.select(sa.func.count()).where(DevicePhoto.device_id == device.id))
    if count >= MAX_PHOTOS:
        raise DomainError(lazy_ngettext("A device can have at most %(num)d photo.", "A device can have at most %(num)d photos.", MAX_PHOTOS), field="photo")
    variants = make_variants(data)
    token = secrets.token_urlsafe(16)
    target = folder()
    for name, variant in variants.items():
        (target / file_name(token, VARIANTS[name])).write_bytes(variant.data)
    _when_transaction_ends(rolled_back=lambda: _remove_files(token))  # no row: no files left behind
    small, large = variants["small"], variants["large"]
    position = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.max(DevicePhoto.position) + 1, 0)).where(DevicePhoto.device_id == device.id)
    )
    photo = DevicePhoto(device_id=device.id, token=token, position=position, small_width=small.width,
                        small_height=small.height, large_width=large.width, large_height=large.height)
    db.session.add(photo)
    db.session.flush()
    audit.record(actor, "device.photo_added", device, photo=photo.id)
    stock_version.stock_changed(device.category, device.pickup_point_id)  # the cover of its offer
    return photo


def delete_photo(device: Device, photo_id: int, *, actor) -> None:
    """Remove one photo of this device and its files."""
    photo = db.session.scalar(sa.select(DevicePhoto).where(DevicePhoto.id == photo_id,
                                                           DevicePhoto.device_id == device.id))
    if photo is None:
        raise NotFound(_l("Page not found"))
    token = photo.token
    db.session.delete(photo)
    db.session.flush()
    audit.record(actor, "device.photo_deleted", device, photo=photo_id)
    stock_version.stock_changed(device.category, device.pickup_point_id)  # the cover of its offer
    _when_transaction_ends(committed=lambda: _remove_files(token))  # a deletion undone keeps its files


_FILE = re.compile(r"^(?P<token>[A-Za-z0-9_-]{8,64})-(?P<width>\d+)\.webp$")
ORPHAN_AGE = timedelta(hours=1)


def sweep_orphans(now: datetime | None = None) -> int:
    """Delete photo files that no photo row names: left by a process killed between writing a
    photo's files and its commit. Files younger than ORPHAN_AGE are left alone (their upload may
    still be committing). Returns how many files were deleted; safe to run twice."""
    cutoff = ((now or utcnow()) - ORPHAN_AGE).timestamp()
    candidates = {}
    for path in folder().iterdir():
        found = _FILE.match(path.name)
        if found and path.is_file() and path.stat().st_mtime < cutoff:
            candidates.setdefault(found["token"], []).append(path)
    if not candidates:
        return 0
    known = set(db.session.scalars(sa.select(DevicePhoto.token)))  # a few thousand short strings at most
    removed = 0
    for token, paths in candidates.items():
        if token not in known:
            for path in paths:
                path.unlink(missing_ok=True)
                removed += 1
    return removed


def _remove_files(token: str) -> None:
    for width in VARIANTS.values():
        (folder() / file_name(token, width)).unlink(missing_ok=True)


def _when_transaction_ends(*, committed=None, rolled_back=None) -> None:
    """Files are not in the transaction: do their part once the request's transaction has
    committed or ended without a commit (savepoints do not count)."""
    if committed:
        tx.after_commit(committed)
    if rolled_back:
        tx.after_rollback(rolled_back)

