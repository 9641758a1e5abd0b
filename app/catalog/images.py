"""Product images: checked by their content, stored on disk, served by id.

An upload is accepted when its first bytes are those of a PNG, JPEG, WebP or
GIF file (the filename and the declared content type are ignored) and it is
at most ``UPLOAD_MAX_IMAGE_BYTES`` long. The file goes to
``<instance>/uploads/<tenant_id>/<image_id>.<ext>``; the row keeps the type
we detected, which is the type the file is served with. Everything here runs
in the current shop's context, so another shop's image id is simply not
found.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from app.catalog.models import Product, ProductImage
from app.core.errors import Conflict, KamengError, NotFound, ValidationFailed
from app.core.ids import uuid7
from app.extensions import db
from tenants.context import current_tenant_id

MAX_IMAGES_PER_PRODUCT = 10
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


class ImageTooLarge(KamengError):
    status = 413
    slug = "payload-too-large"
    title = "Request Entity Too Large"  # werkzeug's name for 413, already translated


def sniff_image_type(head: bytes) -> str | None:
    """The image type the bytes start with (``image/png`` …), or ``None``."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def _folder(tenant_id: uuid.UUID) -> Path:
    return Path(current_app.instance_path) / "uploads" / str(tenant_id)


def image_path(image: ProductImage) -> Path:
    """Where the image's file lives."""
    return _folder(image.tenant_id) / f"{image.id}.{EXTENSIONS[image.content_type]}"


def images_of(product_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[ProductImage]]:
    """The images of many products in one query, each list in display order."""
    ids = list(product_ids)
    if not ids:
        return {}
    found: dict[uuid.UUID, list[ProductImage]] = {}
    for image in db.session.scalars(
        select(ProductImage)
        .where(ProductImage.product_id.in_(ids))
        .order_by(ProductImage.sort, ProductImage.id)
    ):
        found.setdefault(image.product_id, []).append(image)
    return found


def add_image(product_id: uuid.UUID, stream: BinaryIO) -> ProductImage:
    """Store an uploaded picture of the current shop's product. Checks the
    content (422) and the size (413) before anything is written; at most
    ``MAX_IMAGES_PER_PRODUCT`` per product (409). Commits; the file exists
    when the row does (a failed commit removes it)."""
    if not db.session.scalar(select(Product.id).where(Product.id == product_id)):
        raise NotFound("No such product.")
    limit = current_app.config["UPLOAD_MAX_IMAGE_BYTES"]
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLarge(
            f"Images may be at most {limit} bytes.",
            errors={"file": [f"Larger than {limit} bytes."]},
            message=_l("Pictures may be at most %(size)s KB.", size=limit // 1024),
        )
    content_type = sniff_image_type(data[:16])
    if content_type is None:
        raise ValidationFailed(
            "The file is not an image we accept.",
            errors={"file": ["Not a PNG, JPEG, WebP or GIF image."]},
            message=_l("The file is not a PNG, JPEG, WebP or GIF picture."),
        )
    count = db.session.scalar(
        select(func.count(ProductImage.id)).where(ProductImage.product_id == product_id)
    )
    if count >= MAX_IMAGES_PER_PRODUCT:
        raise Conflict(
            f"A product has at most {MAX_IMAGES_PER_PRODUCT} images; delete one first.",
            message=_l(
                "A product has at most %(n)s pictures; delete one first.",
                n=MAX_IMAGES_PER_PRODUCT,
            ),
        )
    image = ProductImage(
        id=uuid7(),
        tenant_id=current_tenant_id(),
        product_id=product_id,
        content_type=content_type,
        size=len(data),
        sort=count,
    )
    path = image_path(image)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(data)
    os.replace(partial, path)
    db.session.add(image)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return image


def delete_image(product_id: uuid.UUID, image_id: uuid.UUID) -> None:
    """Delete one image of the product (its row, then its file). Commits."""
    image = db.session.scalar(
        select(ProductImage).where(
            ProductImage.id == image_id, ProductImage.product_id == product_id
        )
    )
    if image is None:
        raise NotFound("No such image.")
    path = image_path(image)
    db.session.delete(image)
    db.session.commit()
    remove_files([path])


def move_image(product_id: uuid.UUID, image_id: uuid.UUID, up: bool) -> ProductImage:
    """Move one of the product's images a place up (earlier: the first is
    the product's main picture) or down, renumbering the product's images
    0, 1, 2 … in their new order. At the first or last place it stays.
    Commits."""
    pictures = images_of([product_id]).get(product_id, [])
    image = next((picture for picture in pictures if picture.id == image_id), None)
    if image is None:
        raise NotFound("No such image.")
    index = pictures.index(image)
    other = index - 1 if up else index + 1
    if 0 <= other < len(pictures):
        pictures[index], pictures[other] = pictures[other], pictures[index]
    for position, picture in enumerate(pictures):
        picture.sort = position
    db.session.commit()
    return image


def remove_files(paths: Iterable[Path]) -> None:
    """Remove the files of image rows whose deletion has been committed."""
    for path in paths:
        path.unlink(missing_ok=True)


def image_file(image_id: uuid.UUID) -> tuple[Path, str]:
    """The file and content type of one of the current shop's images."""
    image = db.session.scalar(select(ProductImage).where(ProductImage.id == image_id))
    if image is None:
        raise NotFound("No such image.")
    path = image_path(image)
    if not path.is_file():
        raise NotFound("No such image.")
    return path, image.content_type
