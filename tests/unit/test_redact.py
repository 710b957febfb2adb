"""``redact``: secrets vanish from any text, by value and by shape."""

from __future__ import annotations

import logging
import os
import sys

import pytest

from gruponos import redact


def test_registered_value_and_its_url_encoding_are_masked() -> None:
    redact.register("s3cr3t pass/word")
    text = "dsn postgresql://u:s3cr3t%20pass%2Fword@h/db failed; raw s3cr3t pass/word"
    out = redact.redact(text)
    assert "s3cr3t" not in out
    assert out.count("***") >= 2


def test_short_values_are_not_registered() -> None:
    redact.register("ab")
    assert redact.redact("a table") == "a table"


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("connect to postgresql://gruponos:hunter22@db.example:5432/wh failed", "hunter22"),
        ("oracle+oracledb://scott:tiger!x@host/svc", "tiger!x"),
        ("invalid dsn: host=db user=u password=p4ss word port=5432", "p4ss"),
        ("invalid dsn: host=db password='quoted secret' port=5", "quoted secret"),
        ("GET /x?token=abcd1234&page=2", "abcd1234"),
        ('{"password": "in-json-1", "user": "u"}', "in-json-1"),
        ("Authorization: Basic Z3J1cG9ub3M6Z3J1cG9ub3MtbG9jYWw=", "Z3J1cG9ub3M6Z3J1cG9ub3MtbG9jYWw="),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
    ],
)
def test_secret_shapes_are_masked_whatever_the_value(text: str, leak: str) -> None:
    out = redact.redact(text)
    assert leak not in out
    assert "***" in out


def test_text_without_secrets_is_unchanged() -> None:
    text = "allocation: load failed (window [2026-11-01T00:00:00+00:00, now)): id 42 broke type:task_seq_nbr"
    assert redact.redact(text) == text


def test_logging_filter_redacts_message_args_and_traceback() -> None:
    redact.register("filter-secret-9")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "cannot use %s", ("filter-secret-9",), None)
    try:
        raise ValueError("boom with filter-secret-9")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert redact.RedactingFilter().filter(record)
    assert "filter-secret-9" not in record.getMessage()
    assert record.exc_text is not None
    assert "filter-secret-9" not in record.exc_text


def test_the_local_credentials_mask_no_name_the_service_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator's well-known password is registered like any secret: it must not be a word
    the service prints (it was once the work pool's name, shown as 'worker on pool ***')."""
    from gruponos import settings
    from gruponos.cli.service import LOCAL_POOL

    for key in [k for k in os.environ if k.startswith("GRUPONOS_")]:
        monkeypatch.delenv(key)
    settings.load(env="local")
    for name in (LOCAL_POOL, "gruponos", "local", "full-sync/local", "wms_raw", "gruponos.duckdb"):
        assert redact.redact(f"worker on pool {name}") == f"worker on pool {name}", name
