"""The webhook alert never raises: a receiver that is down or a URL that is not one is logged."""

from __future__ import annotations

import logging
import socket

import pytest

from flows.alerts import send


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://127.0.0.1:8o8o/hooks/T0KEN", "not a usable http(s) URL"),
        ("ftp://127.0.0.1/hooks/T0KEN", "not a usable http(s) URL"),
        ("http://127.0.0.1:{port}/hooks/T0KEN", "did not answer"),
    ],
)
def test_an_alert_that_cannot_be_sent_is_logged_without_the_url(
    url: str, said: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert send(url.format(port=_closed_port()), {"text": "x"}) is False
    assert said in caplog.text and "T0KEN" not in caplog.text
