"""Moved to :mod:`app.storefront.pagecache`.

Only ``app/catalog/imports.py`` still imports this path (``pagecache.touch``
after its ``COPY``); delete this module once it reads
``from app.storefront import pagecache``. ``tests/test_layers.py`` lists it
as a core module importing a domain until then.
"""

from app.storefront.pagecache import touch  # noqa: F401
