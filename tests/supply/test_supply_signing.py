"""The supply protocol's signature (``app.supply.signing``): what both
sides compute, checked without a server."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from app.supply import signing

KEY = "ks_partner_key_0001"
SECRET = "s3cret-of-the-credential"
NOW = 1_780_000_000


def headers_for(method="POST", path="/supply/v1/purchases", body=b'{"a":1}', now=NOW):
    return signing.sign(KEY, SECRET, method, path, body, now=now)


def test_the_signature_is_hmac_sha256_over_the_documented_lines():
    body = b'{"sku":"x"}'
    sent = headers_for(body=body)
    lines = "\n".join(
        [
            "1",
            "POST",
            "/supply/v1/purchases",
            str(NOW),
            sent[signing.H_NONCE],
            hashlib.sha256(body).hexdigest(),
        ]
    )
    expected = hmac.new(SECRET.encode(), lines.encode(), hashlib.sha256).hexdigest()
    assert sent[signing.H_SIGNATURE] == expected
    assert sent[signing.H_PROTOCOL] == signing.PROTOCOL_VERSION
    assert sent[signing.H_KEY] == KEY and sent[signing.H_TIMESTAMP] == str(NOW)


def test_a_signed_request_verifies():
    sent = headers_for()
    signing.verify(
        signing.read_headers(sent), SECRET, "POST", "/supply/v1/purchases", b'{"a":1}', now=NOW
    )


def test_every_nonce_is_new():
    assert len({headers_for()[signing.H_NONCE] for _ in range(50)}) == 50


@pytest.mark.parametrize(
    "change",
    [
        {"method": "GET"},
        {"path": "/supply/v1/purchases?x=1"},
        {"body": b'{"a":2}'},
        {"secret": "another secret"},
    ],
)
def test_any_change_breaks_the_signature(change):
    sent = headers_for()
    args = {
        "secret": SECRET,
        "method": "POST",
        "path": "/supply/v1/purchases",
        "body": b'{"a":1}',
        **change,
    }
    with pytest.raises(signing.SignatureProblem) as refused:
        signing.verify(signing.read_headers(sent), now=NOW, **args)
    assert refused.value.reason == "signature"


@pytest.mark.parametrize("skew", [-signing.WINDOW_SECONDS - 1, signing.WINDOW_SECONDS + 1])
def test_a_timestamp_outside_the_window_is_stale(skew):
    sent = headers_for(now=NOW + skew)
    with pytest.raises(signing.SignatureProblem) as refused:
        signing.verify(
            signing.read_headers(sent), SECRET, "POST", "/supply/v1/purchases", b'{"a":1}', now=NOW
        )
    assert refused.value.reason == "stale"


@pytest.mark.parametrize(
    ("header", "value", "reason"),
    [
        (signing.H_SIGNATURE, "", "missing"),
        (signing.H_KEY, "", "missing"),
        (signing.H_PROTOCOL, "2", "version"),
        (signing.H_NONCE, "short", "malformed"),
        (signing.H_KEY, "bad key!", "malformed"),
        (signing.H_TIMESTAMP, "yesterday", "malformed"),
        (signing.H_SIGNATURE, "ABC", "malformed"),
    ],
)
def test_malformed_headers_are_named(header, value, reason):
    sent = {**headers_for(), header: value}
    with pytest.raises(signing.SignatureProblem) as refused:
        signing.read_headers(sent)
    assert refused.value.reason == reason


def test_an_unsupported_version_names_the_supported_ones():
    with pytest.raises(signing.SignatureProblem) as refused:
        signing.read_headers({**headers_for(), signing.H_PROTOCOL: "0"})
    assert all(v in refused.value.detail for v in signing.SUPPORTED_VERSIONS)
