"""The shop's logo and banner: uploaded, checked by their content, stored
under a name that is their content's hash, and served on the shop's host.

An upload is accepted when its first bytes are those of a PNG, JPEG, WebP
or GIF file (``app.catalog.images.sniff_image_type``; the filename and the
declared type are ignored) and it is at most ``UPLOAD_MAX_IMAGE_BYTES``
long. The file goes to ``<instance>/uploads/<tenant_id>/brand/<sha256>.<ext>``
and its name to ``Tenant.logo_file`` or ``banner_file``. A name never
changes content, so it is served with a year-long, immutable cache
lifetime: a new picture is a new name, and the pages name the new one once
the change commits. A file no slot names any more is deleted after the
commit.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import BinaryIO

from flask import current_app
from flask_babel import lazy_gettext as _l

from app.audit import services as audit
from app.catalog.images import EXTENSIONS, ImageTooLarge, sniff_image_type
from app.core.errors import NotFound, ValidationFailed
from app.extensions import db
from app.settings.services import current_shop
from tenants.resolve import invalidate_resolution

#: The pictures a shop has, and the column that names each one's file.
KINDS = {"logo": "logo_file", "banner": "banner_file"}
_TYPES = {ext: content_type for content_type, ext in EXTENSIONS.items()}
_NAME = re.compile(r"[0-9a-f]{64}\.(?:" + "|".join(_TYPES) + ")")


def _folder(tenant_id: uuid.UUID) -> Path:
    return Path(current_app.instance_path) / "uploads" / str(tenant_id) / "brand"


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound("No such picture.")
    return KINDS[kind]


def read_image(stream: BinaryIO) -> tuple[bytes, str]:
    """The upload's bytes and the type they are, or ``ImageTooLarge`` (413) /
    ``ValidationFailed`` (422) with a ``file`` error; reads at most one byte
    past the limit."""
    limit = current_app.config["UPLOAD_MAX_IMAGE_BYTES"]
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLarge(
            f"Images may be at most {limit} bytes.",
            errors={"file": [f"Larger than {limit} bytes."]},
            message=_l("The picture is larger than %(size)s KB.", size=limit // 1024),
        )
    content_type = sniff_image_type(data[:16])
    if content_type is None:
        raise ValidationFailed(
            "The file is not an image we accept.",
            errors={"file": ["Not a PNG, JPEG, WebP or GIF image."]},
            message=_l("The file is not a PNG, JPEG, WebP or GIF picture."),
        )
    return data, content_type


def store_brand_image(kind: str, stream: BinaryIO, *, actor: str) -> str:
    """Make the upload the shop's ``kind`` (``logo`` or ``banner``). Checks
    the content (422) and the size (413) before anything is written. Atomic
    with its audit row; the file exists when the row names it. Returns the
    file's name."""
    column = _kind(kind)
    data, content_type = read_image(stream)
    tenant = current_shop()
    name = f"{hashlib.sha256(data).hexdigest()}.{EXTENSIONS[content_type]}"
    path = _folder(tenant.id) / name
    written = not path.is_file()
    if written:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{name}.{uuid.uuid4().hex}.part")
        partial.write_bytes(data)
        os.replace(partial, path)
    before = getattr(tenant, column)
    setattr(tenant, column, name)
    audit.record(actor, f"shop.{kind}", f"shop:{tenant.slug}", file=name, replaced=before)
    try:
        db.session.commit()
    except Exception:
        db.session.rollback()
        if written and name not in _names_in_use():
            path.unlink(missing_ok=True)
        raise
    _forget(tenant.id, before)
    invalidate_resolution()
    return name


def remove_brand_image(kind: str, *, actor: str) -> bool:
    """The shop shows no ``kind`` any more (its name, or nothing). Atomic
    with its audit row; the file goes after the commit. Returns whether
    there was one."""
    column = _kind(kind)
    tenant = current_shop()
    before = getattr(tenant, column)
    if before is None:
        return False
    setattr(tenant, column, None)
    audit.record(actor, f"shop.{kind}_removed", f"shop:{tenant.slug}", file=before)
    db.session.commit()
    _forget(tenant.id, before)
    invalidate_resolution()
    return True


def _names_in_use() -> set[str]:
    """The files the shop's row names now (read again after a commit or a
    rollback)."""
    tenant = current_shop()
    return {getattr(tenant, column) for column in KINDS.values()} - {None}


def _forget(tenant_id: uuid.UUID, name: str | None) -> None:
    """Delete a file no slot names any more (the logo and the banner may be
    the same picture, hence the same file)."""
    if name and name not in _names_in_use():
        (_folder(tenant_id) / name).unlink(missing_ok=True)


def brand_file(tenant_id: uuid.UUID, name: str, in_use: tuple) -> tuple[Path, str]:
    """The file and content type of the shop's picture ``name``, which must
    be one the shop shows now (``in_use``: its logo's and banner's names);
    ``NotFound`` otherwise. Reads no database: the caller passes the names
    from the cached shop."""
    if not _NAME.fullmatch(name or "") or name not in in_use:
        raise NotFound("No such picture.")
    path = _folder(tenant_id) / name
    if not path.is_file():
        raise NotFound("No such picture.")
    return path, _TYPES[name.rsplit(".", 1)[1]]
