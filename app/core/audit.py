"""Moved to the :mod:`app.audit` package (``models.AuditEvent``,
``services.record``).

Kept only while ``app/catalog/stock.py`` and ``app/orders/services.py``
still read ``from app.core import audit``; delete it once they read
``from app.audit import services as audit``. ``tests/test_layers.py`` lists
it as a core module importing a domain until then.
"""

from app.audit.models import AuditEvent  # noqa: F401
from app.audit.services import record  # noqa: F401
