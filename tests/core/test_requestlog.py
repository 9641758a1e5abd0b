"""Every answer carries a request id; a crash is logged with its traceback
under that id, and the 500 problem document names it."""

from __future__ import annotations

import logging

import pytest

from app import create_app


def test_every_answer_carries_a_request_id_and_a_given_one_is_kept(app):
    client = app.test_client()

    fresh = client.get("/healthz", headers={"Host": "localhost"})
    kept = client.get("/healthz", headers={"Host": "localhost", "X-Request-Id": "trace-0123456789"})
    junk = client.get("/healthz", headers={"Host": "localhost", "X-Request-Id": "bad id; <script>"})

    assert len(fresh.headers["X-Request-Id"]) == 32
    assert kept.headers["X-Request-Id"] == "trace-0123456789"
    assert len(junk.headers["X-Request-Id"]) == 32  # replaced, not echoed


@pytest.fixture
def crashing_app(app_config):
    """The app as deployed (not in testing mode, so crashes are answered,
    not raised), with one route that fails."""
    live = create_app({**app_config, "TESTING": False})

    def boom():
        raise RuntimeError("the disk caught fire")

    live.add_url_rule("/boom", "boom", boom)
    return live


def test_a_crash_is_logged_with_its_traceback_under_the_id_the_answer_names(crashing_app, caplog):
    with caplog.at_level(logging.ERROR, logger="app.core.problems"):
        response = crashing_app.test_client().get(
            "/boom", headers={"Host": "localhost", "Accept": "application/json"}
        )

    problem = response.get_json()
    assert response.status_code == 500
    assert problem["type"].endswith("/internal-error")
    rid = problem["request_id"]
    assert response.headers["X-Request-Id"] == rid and rid in problem["detail"]
    assert "the disk caught fire" not in response.get_data(as_text=True)
    [record] = [r for r in caplog.records if rid in r.getMessage()]
    assert record.exc_info and "the disk caught fire" in str(record.exc_info[1])


def test_log_lines_name_the_request_and_the_shop(app):
    from app.core.requestlog import RequestContext

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", None, None)
    with app.test_request_context("/", headers={"X-Request-Id": "abcdefgh-1234"}):
        RequestContext().filter(record)
    assert (record.request_id, record.shop) == ("abcdefgh-1234", "-")
