"""Front-end libraries the platform serves itself (``/vendor/...``): no
page loads anything from a CDN, which breaks offline, behind the Great
Firewall, and hands a third party every visitor's address.

Each library is a pinned release from the npm registry, unpacked under
``themes/vendor/<package>/<version>/`` with its licence beside it
(``themes/vendor/README.md`` says how to refresh one). They sit beside the
themes, outside ``app/``: third-party front-end code, shared by every theme
and the API docs page, not code of ours (a folder without ``manifest.json``
is never taken for a theme). The version is
in the path, so the files are cached for a year.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory
from werkzeug.security import safe_join

VENDOR_ROOT = Path(__file__).resolve().parents[2] / "themes" / "vendor"
#: The Swagger UI release the API docs page loads (``OPENAPI_SWAGGER_UI_URL``).
SWAGGER_UI = "swagger-ui-dist/5.35.0"
SWAGGER_UI_URL = f"/vendor/{SWAGGER_UI}/"
SERVED = (".js", ".css")

bp = Blueprint("vendor", __name__)


@bp.get("/vendor/<path:filename>")
def vendor_file(filename: str):
    """A vendored asset (scripts and styles only), on every host."""
    path = safe_join(str(VENDOR_ROOT), filename)
    if path is None or not filename.endswith(SERVED) or not Path(path).is_file():
        abort(404)
    return send_from_directory(VENDOR_ROOT, filename, max_age=365 * 86400)
