"""The ORM guard: inside one shop's context nothing of another shop is read
or written, whatever the shape of the statement; with no context at all,
tenant-owned data is refused rather than leaked."""

from __future__ import annotations

import pytest
from sqlalchemy import (
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    union,
    update,
)
from sqlalchemy.orm import aliased

from app.accounts.models import ApiKey, Membership, PlatformUser, ShopAccount
from app.core.errors import CrossTenantWrite, TenantContextMissing
from app.extensions import db
from tenants import provisioning
from tenants.context import all_tenants, current_tenant_id, is_all_tenants, tenant_context
from tenants.guard import UnguardedStatement
from tenants.models import CustomDomain, Tenant
from tenants.resolve import ShopSnapshot

pytestmark = pytest.mark.critical


@pytest.fixture
def shops(app, shops, make_account):
    """The shared shops alpha and bravo (an owner and an API key each), each
    with a buyer, an agent and a custom domain; ``tenant`` is the shop's row,
    detached with every column loaded. Returns {"a": alpha's, "b": bravo's}."""
    out = {}
    for key, (slug, shop) in zip(("a", "b"), shops.items(), strict=True):
        with app.app_context():
            provisioning.add_custom_domain(shop, f"{slug}.example")
            tenant = db.session.get(Tenant, shop.id)  # the row itself, as the guard sees it
            db.session.expunge(tenant)
        out[key] = {
            "tenant": tenant,
            "buyer": make_account(shop, f"buyer@{slug}.example.com"),
            "agent": make_account(shop, f"agent@{slug}.example.com", "agent"),
            "key": shop.key,
        }
    return out


def emails(rows) -> set[str]:
    return {r.email for r in rows}


def a_row_of(model, tenant):
    with all_tenants():
        return db.session.scalars(select(model).where(model.tenant_id == tenant.id)).first()


# --- reads ---------------------------------------------------------------------


@pytest.mark.parametrize("model", [ShopAccount, ApiKey, Membership, CustomDomain])
def test_a_select_in_shop_a_never_returns_shop_b_rows(app_ctx, shops, model):
    a, b = shops["a"]["tenant"], shops["b"]["tenant"]
    with tenant_context(a):
        rows = db.session.scalars(select(model)).all()
        filtered = db.session.scalars(select(model).where(model.tenant_id == b.id)).all()
    assert rows
    assert {r.tenant_id for r in rows} == {a.id}
    assert filtered == []


def test_get_by_id_of_a_shop_b_row_returns_none_in_shop_a(app_ctx, shops):
    a = shops["a"]["tenant"]
    with tenant_context(a):
        assert db.session.get(ShopAccount, shops["b"]["buyer"].id) is None
        assert (
            db.session.get(ShopAccount, shops["a"]["buyer"].id).email == "buyer@alpha.example.com"
        )


def test_get_does_not_hand_out_a_shop_b_row_already_in_the_identity_map(app_ctx, shops):
    a, b_buyer_id = shops["a"]["tenant"], shops["b"]["buyer"].id
    with all_tenants():
        loaded = db.session.get(ShopAccount, b_buyer_id)  # now in the identity map
    assert loaded.email == "buyer@bravo.example.com"

    with tenant_context(a):
        assert db.session.get(ShopAccount, b_buyer_id) is None
        with pytest.raises(Exception, match="No row"):
            db.session.get_one(ShopAccount, b_buyer_id)

    db.session.expire_all()  # expired objects are refreshed by get(): still not handed out
    with tenant_context(a):
        assert db.session.get(ShopAccount, b_buyer_id) is None


def test_get_of_an_own_row_still_answers_from_the_identity_map(app_ctx, shops):
    a, a_buyer_id = shops["a"]["tenant"], shops["a"]["buyer"].id
    with tenant_context(a):
        first = db.session.get(ShopAccount, a_buyer_id)
        first.display_name = "unsaved edit"
        again = db.session.get(ShopAccount, a_buyer_id)
    assert again is first
    assert again.display_name == "unsaved edit"


def test_a_join_between_tenant_owned_models_stays_in_the_shop(app_ctx, shops):
    a = shops["a"]["tenant"]
    with tenant_context(a):
        rows = db.session.execute(
            select(ShopAccount.email, ApiKey.name, Membership.role)
            .join(ApiKey, ApiKey.tenant_id == ShopAccount.tenant_id)
            .join(Membership, Membership.tenant_id == ShopAccount.tenant_id)
        ).all()
        cross = db.session.execute(
            select(ShopAccount.email).join(ApiKey, ApiKey.tenant_id != ShopAccount.tenant_id)
        ).all()
    assert {r.email for r in rows} == {"buyer@alpha.example.com", "agent@alpha.example.com"}
    assert cross == []


def test_a_join_from_the_shops_table_only_reaches_the_current_shops_rows(app_ctx, shops):
    a = shops["a"]["tenant"]
    with tenant_context(a):
        inner = db.session.execute(
            select(Tenant.slug, ShopAccount.email).join(
                ShopAccount, ShopAccount.tenant_id == Tenant.id
            )
        ).all()
        outer = db.session.execute(
            select(Tenant.slug, func.count(ShopAccount.id))
            .outerjoin(ShopAccount, ShopAccount.tenant_id == Tenant.id)
            .group_by(Tenant.slug)
        ).all()
    assert {r.slug for r in inner} == {"alpha"}
    assert dict(outer) == {"alpha": 2, "bravo": 0}  # the shops table itself is platform data


def test_a_relationship_load_of_a_platform_user_works_inside_a_shop(app_ctx, shops):
    a = shops["a"]["tenant"]
    with tenant_context(a):
        memberships = db.session.scalars(select(Membership)).unique().all()
    assert [m.user.email for m in memberships] == ["owner@alpha.example.com"]


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(select(func.count()).select_from(ShopAccount), id="select_from"),
        pytest.param(select(func.count(ShopAccount.id)), id="count-column"),
        pytest.param(
            select(func.count()).where(ShopAccount.role.in_(["customer", "agent"])),
            id="where-only",
        ),
        pytest.param(
            select(func.count()).select_from(aliased(ShopAccount)), id="aliased-select_from"
        ),
        pytest.param(
            select(func.count(literal_column("1"))).where(ShopAccount.email.is_not(None)),
            id="literal-where-only",
        ),
    ],
)
def test_a_count_over_a_tenant_owned_model_counts_only_the_current_shop(app_ctx, shops, statement):
    with tenant_context(shops["a"]["tenant"]):
        assert db.session.scalar(statement) == 2
    with all_tenants():
        assert db.session.scalar(statement) == 4


def test_a_table_named_only_in_where_is_still_filtered(app_ctx, shops):
    with tenant_context(shops["a"]["tenant"]):
        slugs = db.session.scalars(
            select(Tenant.slug).where(ShopAccount.tenant_id == Tenant.id).distinct()
        ).all()
        roles = db.session.scalars(
            select(Membership.role).where(ShopAccount.tenant_id == Membership.tenant_id)
        ).all()
    assert slugs == ["alpha"]
    assert roles == ["owner", "owner"]  # alpha's owner once per alpha account


@pytest.mark.parametrize(
    "where",
    [
        pytest.param(
            lambda: Tenant.id.in_(select(ShopAccount.tenant_id)),
            id="in-subquery",
        ),
        pytest.param(
            lambda: select(ShopAccount.id).where(ShopAccount.tenant_id == Tenant.id).exists(),
            id="select-exists",
        ),
        pytest.param(
            lambda: exists(1).select_from(ShopAccount).where(ShopAccount.tenant_id == Tenant.id),
            id="exists-select_from",
        ),
        pytest.param(
            lambda: (
                select(func.count(ShopAccount.id))
                .where(ShopAccount.tenant_id == Tenant.id)
                .scalar_subquery()
                > 0
            ),
            id="scalar-subquery",
        ),
    ],
)
def test_a_subquery_over_a_tenant_owned_model_sees_only_the_current_shop(app_ctx, shops, where):
    with tenant_context(shops["a"]["tenant"]):
        slugs = db.session.scalars(select(Tenant.slug).where(where())).all()
    with all_tenants():
        every = db.session.scalars(select(Tenant.slug).where(where())).all()
    assert slugs == ["alpha"]
    assert sorted(every) == ["alpha", "bravo"]


def test_a_subquery_the_guard_cannot_filter_is_refused_not_leaked(app_ctx, shops):
    bare_exists = select(Tenant.slug).where(exists().where(ShopAccount.tenant_id == Tenant.id))
    with tenant_context(shops["a"]["tenant"]), pytest.raises(UnguardedStatement):
        db.session.scalars(bare_exists).all()
    with all_tenants():
        assert sorted(db.session.scalars(bare_exists).all()) == ["alpha", "bravo"]


def test_a_correlated_subquery_on_the_outer_shop_rows_is_allowed(app_ctx, shops):
    with tenant_context(shops["a"]["tenant"]):
        rows = db.session.scalars(
            select(ShopAccount).where(
                select(ApiKey.id).where(ApiKey.tenant_id == ShopAccount.tenant_id).exists()
            )
        ).all()
    assert emails(rows) == {"buyer@alpha.example.com", "agent@alpha.example.com"}


def test_aliases_unions_and_ctes_stay_in_the_shop(app_ctx, shops):
    acct = aliased(ShopAccount)
    with tenant_context(shops["a"]["tenant"]):
        aliased_rows = db.session.scalars(select(acct.email)).all()
        union_rows = db.session.scalars(
            union(
                select(ShopAccount.email),
                select(ShopAccount.email).where(ShopAccount.id.is_not(None)),
            )
        ).all()
        cte = select(ShopAccount.email).cte()
        cte_rows = db.session.scalars(select(cte.c.email)).all()
    alpha = {"buyer@alpha.example.com", "agent@alpha.example.com"}
    assert set(aliased_rows) == set(union_rows) == set(cte_rows) == alpha


def test_raw_sql_and_platform_tables_are_not_touched(app_ctx, shops):
    with tenant_context(shops["a"]["tenant"]):
        assert db.session.scalar(text("SELECT 1")) == 1
        assert sorted(db.session.scalars(select(Tenant.slug)).all()) == ["alpha", "bravo"]
        assert db.session.scalar(select(func.count()).select_from(PlatformUser)) == 2


# --- bulk statements -----------------------------------------------------------


def test_a_bulk_update_in_shop_a_only_touches_shop_a_rows(app_ctx, shops):
    with tenant_context(shops["a"]["tenant"]):
        result = db.session.execute(update(ShopAccount).values(display_name="bulk"))
        db.session.commit()
    assert result.rowcount == 2
    with all_tenants():
        names = dict(db.session.execute(select(ShopAccount.email, ShopAccount.display_name)).all())
    assert names == {
        "buyer@alpha.example.com": "bulk",
        "agent@alpha.example.com": "bulk",
        "buyer@bravo.example.com": None,
        "agent@bravo.example.com": None,
    }


def test_a_bulk_update_naming_shop_b_ids_in_where_changes_nothing(app_ctx, shops):
    with tenant_context(shops["a"]["tenant"]):
        result = db.session.execute(
            update(ShopAccount)
            .where(ShopAccount.id == shops["b"]["buyer"].id)
            .values(display_name="pwned")
        )
        db.session.commit()
    assert result.rowcount == 0
    with all_tenants():
        assert db.session.get(ShopAccount, shops["b"]["buyer"].id).display_name is None


def test_a_bulk_update_by_primary_key_of_a_shop_b_row_is_refused(app_ctx, shops):
    a_buyer, b_buyer = shops["a"]["buyer"].id, shops["b"]["buyer"].id
    with tenant_context(shops["a"]["tenant"]):
        with pytest.raises(CrossTenantWrite):
            db.session.execute(
                update(ShopAccount),
                [{"id": a_buyer, "display_name": "ok"}, {"id": b_buyer, "display_name": "pwned"}],
            )
        db.session.rollback()
        db.session.execute(update(ShopAccount), [{"id": a_buyer, "display_name": "ok"}])
        db.session.commit()
    with all_tenants():
        assert db.session.get(ShopAccount, b_buyer).display_name is None
        assert db.session.get(ShopAccount, a_buyer).display_name == "ok"


def test_a_bulk_delete_in_shop_a_only_deletes_shop_a_rows(app_ctx, shops):
    with tenant_context(shops["a"]["tenant"]):
        result = db.session.execute(delete(ShopAccount))
        db.session.commit()
    assert result.rowcount == 2
    with all_tenants():
        left = db.session.scalars(select(ShopAccount)).all()
    assert emails(left) == {"buyer@bravo.example.com", "agent@bravo.example.com"}


def test_a_bulk_update_may_not_move_rows_to_another_shop(app_ctx, shops):
    b = shops["b"]["tenant"]
    with tenant_context(shops["a"]["tenant"]), pytest.raises(CrossTenantWrite):
        db.session.execute(update(ShopAccount).values(tenant_id=b.id))
    db.session.rollback()
    with all_tenants():
        counts = dict(
            db.session.execute(
                select(ShopAccount.tenant_id, func.count()).group_by(ShopAccount.tenant_id)
            ).all()
        )
    assert counts == {shops["a"]["tenant"].id: 2, b.id: 2}


def test_an_update_setting_tenant_id_through_its_parameters_is_refused(app_ctx, shops):
    b = shops["b"]["tenant"]
    with tenant_context(shops["a"]["tenant"]), pytest.raises(CrossTenantWrite):
        db.session.execute(update(ShopAccount).values(display_name="x"), {"tenant_id": b.id})
    db.session.rollback()
    with all_tenants():
        assert db.session.scalar(select(func.count()).where(ShopAccount.tenant_id == b.id)) == 2


def test_an_update_setting_tenant_id_to_an_expression_is_refused(app_ctx, shops):
    with tenant_context(shops["a"]["tenant"]), pytest.raises(CrossTenantWrite):
        db.session.execute(
            update(ShopAccount).values(
                tenant_id=select(Tenant.id).where(Tenant.slug == "bravo").scalar_subquery()
            )
        )


def new_account_row(tenant_id, email: str = "new@example.com") -> dict:
    return {"tenant_id": tenant_id, "email": email, "password_hash": "x", "role": "customer"}


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(
            lambda b: db.session.execute(insert(ShopAccount), [new_account_row(b)]),
            id="bulk",
        ),
        pytest.param(
            lambda b: db.session.execute(insert(ShopAccount).values(**new_account_row(b))),
            id="values",
        ),
        pytest.param(
            lambda b: db.session.execute(
                insert(ShopAccount).values([new_account_row(b), new_account_row(b, "2@x.y")])
            ),
            id="multi-values",
        ),
        pytest.param(
            lambda b: db.session.execute(insert(ShopAccount), new_account_row(str(b))),
            id="string-id",
        ),
    ],
)
def test_an_insert_statement_in_shop_a_may_not_write_shop_b_rows(app_ctx, shops, run):
    with tenant_context(shops["a"]["tenant"]), pytest.raises(CrossTenantWrite):
        run(shops["b"]["tenant"].id)
    db.session.rollback()
    with all_tenants():
        assert db.session.scalar(select(func.count()).select_from(ShopAccount)) == 4


def test_an_insert_statement_for_the_current_shop_is_written(app_ctx, shops):
    a = shops["a"]["tenant"]
    with tenant_context(a):
        db.session.execute(insert(ShopAccount), [new_account_row(a.id)])
        db.session.commit()
        assert "new@example.com" in emails(db.session.scalars(select(ShopAccount)))


# --- flushes -------------------------------------------------------------------


def test_adding_an_object_with_shop_b_tenant_id_raises_and_writes_nothing(app_ctx, shops):
    b = shops["b"]["tenant"]
    with tenant_context(shops["a"]["tenant"]):
        db.session.add(ShopAccount(tenant_id=b.id, email="sneak@example.com", password_hash="x"))
        with pytest.raises(CrossTenantWrite):
            db.session.flush()
    db.session.rollback()
    with all_tenants():
        assert (
            db.session.scalar(
                select(ShopAccount.id).where(ShopAccount.email == "sneak@example.com")
            )
            is None
        )


def test_a_new_object_without_tenant_id_joins_the_current_shop(app_ctx, shops):
    a = shops["a"]["tenant"]
    with tenant_context(a):
        account = ShopAccount(email="fresh@example.com", password_hash="x")
        db.session.add(account)
        db.session.commit()
        assert account.tenant_id == a.id


def test_modifying_a_shop_b_row_loaded_across_shops_raises_when_flushed_in_shop_a(app_ctx, shops):
    with all_tenants():
        b_buyer = db.session.get(ShopAccount, shops["b"]["buyer"].id)
    b_buyer.display_name = "pwned"
    with tenant_context(shops["a"]["tenant"]), pytest.raises(CrossTenantWrite):
        db.session.commit()
    db.session.rollback()
    with all_tenants():
        assert db.session.get(ShopAccount, shops["b"]["buyer"].id).display_name is None


def test_deleting_a_shop_b_row_inside_shop_a_raises(app_ctx, shops):
    with all_tenants():
        b_key = a_row_of(ApiKey, shops["b"]["tenant"])
    db.session.delete(b_key)
    with tenant_context(shops["a"]["tenant"]), pytest.raises(CrossTenantWrite):
        db.session.flush()
    db.session.rollback()
    with all_tenants():
        assert a_row_of(ApiKey, shops["b"]["tenant"]) is not None


def test_moving_an_own_row_to_another_shop_raises(app_ctx, shops):
    a, b = shops["a"]["tenant"], shops["b"]["tenant"]
    with tenant_context(a):
        account = db.session.get(ShopAccount, shops["a"]["buyer"].id)
        account.tenant_id = b.id
        with pytest.raises(CrossTenantWrite):
            db.session.flush()


def test_moving_a_shop_b_row_into_shop_a_raises(app_ctx, shops):
    a = shops["a"]["tenant"]
    with all_tenants():
        b_buyer = db.session.get(ShopAccount, shops["b"]["buyer"].id)
    b_buyer.tenant_id = a.id
    with tenant_context(a), pytest.raises(CrossTenantWrite):
        db.session.flush()


def test_all_tenants_reads_and_writes_every_shop(app_ctx, shops):
    with all_tenants():
        rows = db.session.scalars(select(ShopAccount)).all()
        for row in rows:
            row.display_name = "swept"
        db.session.commit()
        names = set(db.session.scalars(select(ShopAccount.display_name)))
    assert len(rows) == 4
    assert names == {"swept"}


# --- no context ----------------------------------------------------------------


@pytest.mark.parametrize(
    "run",
    [
        pytest.param(lambda ids: db.session.scalars(select(ShopAccount)).all(), id="select"),
        pytest.param(lambda ids: db.session.get(ShopAccount, ids["a_buyer"]), id="get"),
        pytest.param(
            lambda ids: db.session.scalar(select(func.count()).select_from(ApiKey)), id="count"
        ),
        pytest.param(
            lambda ids: db.session.scalar(select(func.count()).where(ApiKey.role == "owner")),
            id="count-where-only",
        ),
        pytest.param(
            lambda ids: db.session.scalars(
                select(Tenant.slug).where(exists().where(ShopAccount.tenant_id == Tenant.id))
            ).all(),
            id="exists",
        ),
        pytest.param(
            lambda ids: db.session.execute(update(ShopAccount).values(display_name="x")),
            id="update",
        ),
        pytest.param(lambda ids: db.session.execute(delete(Membership)), id="delete"),
        pytest.param(
            lambda ids: db.session.execute(insert(ShopAccount), [new_account_row(ids["b"])]),
            id="insert",
        ),
    ],
)
def test_with_no_context_tenant_owned_statements_are_refused(app_ctx, shops, run):
    ids = {"a_buyer": shops["a"]["buyer"].id, "b": shops["b"]["tenant"].id}
    with pytest.raises(TenantContextMissing):
        run(ids)


def test_with_no_context_get_refuses_even_an_object_already_in_the_identity_map(app_ctx, shops):
    with all_tenants():
        db.session.get(ShopAccount, shops["a"]["buyer"].id)
    with pytest.raises(TenantContextMissing):
        db.session.get(ShopAccount, shops["a"]["buyer"].id)


def test_with_no_context_writes_are_refused(app_ctx, shops):
    db.session.add(ShopAccount(tenant_id=shops["a"]["tenant"].id, email="x@y.z", password_hash="x"))
    with pytest.raises(CrossTenantWrite):
        db.session.flush()
    db.session.rollback()

    with all_tenants():
        account = db.session.get(ShopAccount, shops["a"]["buyer"].id)
    account.display_name = "no context"
    with pytest.raises(CrossTenantWrite):
        db.session.flush()


def test_with_no_context_platform_tables_are_readable(app_ctx, shops):
    assert sorted(db.session.scalars(select(Tenant.slug))) == ["alpha", "bravo"]
    assert db.session.scalar(select(func.count()).select_from(PlatformUser)) == 2


# --- the context itself --------------------------------------------------------


def test_nested_contexts_restore_the_outer_one_on_exit(app_ctx, shops):
    a, b = shops["a"]["tenant"], shops["b"]["tenant"]

    def visible() -> set[str]:
        return {e.split("@")[1] for e in db.session.scalars(select(ShopAccount.email))}

    assert current_tenant_id() is None
    with tenant_context(a):
        assert visible() == {"alpha.example.com"}
        with tenant_context(b):
            assert visible() == {"bravo.example.com"}
            with all_tenants():
                assert is_all_tenants()
                assert current_tenant_id() is None
                assert visible() == {"alpha.example.com", "bravo.example.com"}
            assert current_tenant_id() == b.id
        assert visible() == {"alpha.example.com"}
        with pytest.raises(RuntimeError, match="boom"), tenant_context(b):
            raise RuntimeError("boom")
        assert current_tenant_id() == a.id
    assert current_tenant_id() is None
    assert not is_all_tenants()
    with pytest.raises(TenantContextMissing):
        visible()


@pytest.mark.parametrize(
    "as_given",
    [
        pytest.param(lambda t: t, id="tenant"),
        pytest.param(lambda t: t.id, id="uuid"),
        pytest.param(lambda t: str(t.id), id="string"),
        pytest.param(lambda t: ShopSnapshot.of(t), id="snapshot"),
    ],
)
def test_tenant_context_takes_a_tenant_its_id_or_a_snapshot(app_ctx, shops, as_given):
    a = shops["a"]["tenant"]
    with tenant_context(as_given(a)) as tid:
        assert tid == a.id
        assert current_tenant_id() == a.id


def test_tenant_context_refuses_what_is_not_a_tenant(app_ctx):
    with pytest.raises(TypeError), tenant_context(object()):
        pass
    assert current_tenant_id() is None
