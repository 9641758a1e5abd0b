"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


@pytest.mark.critical
def test_models_and_migrations_agree(app_ctx):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], f"models and migrations differ; write a migration: {diff}"


@pytest.mark.critical
def test_every_tenant_owned_index_starts_with_tenant_id(app_ctx):
    """Sharding by shop needs tenant_id first (see DESIGN.md › Runtime)."""
    from tenants.guard import TenantOwned

    # Directory data looked up before the shop is known; see the models' comments.
    allowed = {("custom_domains", ("host",)), ("memberships", ("user_id",))}
    for mapper in db.Model.registry.mappers:
        if not issubclass(mapper.class_, TenantOwned):
            continue
        table = mapper.local_table
        for index in table.indexes:
            cols = tuple(c.name for c in index.columns)
            assert cols[0] == "tenant_id" or (table.name, cols) in allowed, (table.name, cols)
        for constraint in table.constraints:
            cols = tuple(c.name for c in getattr(constraint, "columns", []))
            if type(constraint).__name__ == "UniqueConstraint":
                assert cols[0] == "tenant_id" or (table.name, cols) in allowed, (table.name, cols)
