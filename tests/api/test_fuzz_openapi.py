"""The API as its published description promises it: schemathesis reads the
app's own ``/api/v1/openapi.json`` and sends every operation generated
requests, through the real app on the suite's database (PostgreSQL under
``scripts/test``, where NUL bytes and integer overflow fail differently from
SQLite). No answer may be a server error; every answer must have the
status, media type and body schema the description gives it.

Two phases:

- fuzzing: every operation on its own, once per kind of caller (the shop's
  operator API key, a signed-in buyer's session cookie with its CSRF token,
  nobody), on the shop's host. Each runs schemathesis's phases for pytest:
  the description's examples, its coverage cases (boundaries, missing and
  wrong-typed fields, unexpected methods) and generated cases, valid and
  invalid. A fuzz dictionary mixes in the values that once gave 500s on
  PostgreSQL (NUL bytes, very long text, integers past 64 bits) and real ids
  of the shop (its product, an order) so requests also
  reach past the 404s;
- stateful: sequences of calls that follow the description's links (an
  order's answer links to reading and paying it, with its lookup token) and
  the links schemathesis infers from names (a created product's ``id`` into
  ``/products/{product_id}``), as the operator.

The budget (examples per operation, scenarios and steps) keeps the file near
a minute on 2 cores; generation is derandomized, so a run is reproducible and
a failure names the request to replay. ``pytest -m "not fuzz"`` skips it.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import Flaky
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.support import csrf_header
from tests.factories import bearer

pytestmark = pytest.mark.fuzz

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# The app and the database are real, so an example costs a request and a
# transaction; the data each example leaves stays for the next (as in use).
BUDGET = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
# Generation only, as schemathesis runs state machines: a scenario's requests
# depend on what earlier ones created, so a replay would not draw the same.
STATEFUL_BUDGET = settings(
    BUDGET, max_examples=40, stateful_step_count=10, phases=[Phase.explicit, Phase.generate]
)

#: Values that reached the database unchecked and failed there (PostgreSQL
#: refuses NUL in text; no column holds an integer past 64 bits), offered for
#: about a third of the string and integer parameters. Positive cases draw
#: the ones the description allows, negative cases the others.
HOSTILE = ["a\x00b", "\x00", "x" * 300, "é" * 2000, "ÿþ", 2**31, 2**63, -(2**63) - 1, 10**30]
#: The same for the JSON fields the bodies share.
HOSTILE_FIELDS = ("name", "email", "number", "content", "description", "display_name")
HOSTILE_NUMBERS = ("quantity", "amount", "price", "cost", "sort")


@pytest.fixture
def fuzz_shop(app, shops, make_product, browser_for, monkeypatch):
    """The shop ``alpha`` as fuzzing finds it: a card product on sale with
    stock and one unpaid order (the stateful phase places and pays more), the rate limits out of the way (the fuzzer is
    not a flood; the limits have their own tests) and Stripe's webhook secrets
    set, so their endpoints check signatures as deployed."""
    monkeypatch.setitem(app.config, "ORDER_CREATE_RATE_LIMIT", "100000 per minute")
    monkeypatch.setitem(app.config, "ORDER_LOOKUP_RATE_LIMIT", "100000 per minute")
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", "whsec_fuzz")
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", "whsec_fuzz_connect")
    alpha = shops["alpha"]
    product_id = str(make_product(alpha["tenant"], stock=[f"FUZZ-{i}" for i in range(20)]))
    order = (
        browser_for(alpha["host"])
        .post(
            "/api/v1/orders",
            json={"product_id": product_id, "quantity": 1, "email": "fuzz@example.com"},
            headers=bearer(alpha["key"]),
        )
        .get_json()
    )
    return {
        **alpha,
        "base_url": f"http://{alpha['host']}",
        "product_id": product_id,
        "number": order["number"],
    }


def _config(shop: dict) -> schemathesis.Config:
    def bound(dictionary: str, probability: float = 0.3) -> dict:
        return {"dictionary": dictionary, "probability": probability}

    parameters = {
        "path.product_id": bound("product", 0.5),
        "body.product_id": bound("product", 0.5),
        # A parameter's own dictionary replaces the one for its type: the
        # order numbers drawn from it are the real one half the time (its
        # lookup token is tried against it), the hostile values otherwise.
        "path.number": bound("order", 0.6),
        **{f"body.{name}": bound("hostile") for name in HOSTILE_FIELDS + HOSTILE_NUMBERS},
    }
    return schemathesis.Config.from_dict(
        {
            "dictionaries": {
                "hostile": {"values": HOSTILE},
                "product": {"values": [shop["product_id"]]},
                "order": {"values": [shop["number"]] * len(HOSTILE) + HOSTILE},
            },
            "parameters": parameters,
            "generation": {
                # Each test sends its caller's own credentials, not invented ones.
                "with-security-parameters": False,
                "dictionaries": {"string": bound("hostile"), "integer": bound("hostile")},
            },
        }
    )


@pytest.fixture
def api_schema(app, fuzz_shop, request):
    """The description the app publishes, as schemathesis loads it from the
    app itself (WSGI, the shop's host)."""
    # schemathesis 4.32's per-operation reporting reads and rewrites the test
    # item's ``_nodeid``, which pytest 9.2 no longer has (it keeps ``_id``).
    request.node._nodeid = request.node.nodeid
    return schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json",
        app,
        config=_config(fuzz_shop),
        headers={"Host": fuzz_shop["host"]},
    )


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def operator(fuzz_shop) -> dict:
    return {"base_url": fuzz_shop["base_url"], "headers": bearer(fuzz_shop["key"])}


@pytest.fixture
def buyer(fuzz_shop, buyer_session) -> dict:
    browser = buyer_session(fuzz_shop)
    return {
        "base_url": fuzz_shop["base_url"],
        "headers": csrf_header(browser, "/account/login"),
        "session": browser.client,  # its cookie jar holds the session
    }


@pytest.fixture
def anonymous(fuzz_shop) -> dict:
    return {"base_url": fuzz_shop["base_url"]}


@schema.parametrize()
@BUDGET
def test_no_operation_fails_or_breaks_its_description_for_the_operator(case, operator):
    case.call_and_validate(checks=CHECKS, **operator)


@schema.parametrize()
@BUDGET
def test_no_operation_fails_or_breaks_its_description_for_a_signed_in_buyer(case, buyer):
    case.call_and_validate(checks=CHECKS, **buyer)


@schema.parametrize()
@BUDGET
def test_no_operation_fails_or_breaks_its_description_for_an_anonymous_caller(case, anonymous):
    case.call_and_validate(checks=CHECKS, **anonymous)


def test_call_sequences_along_the_links_fail_nowhere(api_schema, operator):
    found: list[Exception] = []

    class OperatorWorkflow(api_schema.as_state_machine()):
        def get_call_kwargs(self, case):
            return operator

        def step(self, input):
            try:
                return super().step(input)
            except Exception as exc:  # a failed check, or the app's own exception
                found.append(exc)
                raise

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    try:
        OperatorWorkflow.run(settings=STATEFUL_BUDGET)
    except Flaky:
        # Every scenario leaves the shop's data changed (what it created stays),
        # so a scenario replayed on it may take another path, which Hypothesis
        # calls flaky. What a scenario hit the first time is the finding; with
        # none, the scenarios found nothing (schemathesis's runner does the same).
        if found:
            raise found[0] from None
