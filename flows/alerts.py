"""Alerts: a failed, crashed or late run POSTs a JSON message to ``GRUPONOS_FLOWS__WEBHOOK_URL``."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from prefect import Flow
from prefect.client.schemas.objects import FlowRun, State
from prefect.settings import PREFECT_UI_URL

from gruponos import settings as settings_module
from gruponos.errors import SettingsError

__all__ = ["alert", "send"]

log = logging.getLogger(__name__)


def send(url: str, message: dict[str, Any]) -> bool:
    """POST the alert; True when the receiver accepted it (2xx). Never raises."""
    try:
        response = httpx.post(url, json=message, timeout=10)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol):  # the URL itself (not shown: it may hold a token)
        log.error("alert NOT sent: GRUPONOS_FLOWS__WEBHOOK_URL is not a usable http(s) URL")
        return False
    except httpx.HTTPError as exc:
        log.error("alert NOT sent: the webhook did not answer (%s)", type(exc).__name__)
        return False
    if response.is_success:
        log.info("alert sent (webhook answered %d)", response.status_code)
        return True
    log.error("alert NOT sent: the webhook answered %d", response.status_code)
    return False


def alert(flow: Flow[..., Any], flow_run: FlowRun, state: State[Any]) -> None:
    """Flow hook (``on_failure``/``on_crashed``): tell the configured webhook what went wrong."""
    env = str(flow_run.parameters.get("env", "local"))
    try:
        cfg = settings_module.load(env=env)
    except SettingsError as exc:
        log.error("alert NOT sent: %s", exc)
        return
    if cfg.flows.webhook_url is None:
        log.warning("no alert sent: GRUPONOS_FLOWS__WEBHOOK_URL is not set")
        return
    ui = PREFECT_UI_URL.value()
    send(
        cfg.flows.webhook_url.get_secret_value(),
        {
            "text": f"{flow.name} ({env}) {state.name}: {state.message or ''}",
            "flow": flow.name,
            "env": env,
            "flow_run_id": str(flow_run.id),
            "flow_run_name": flow_run.name,
            "state": state.name,
            "message": state.message,
            "url": f"{ui}/runs/flow-run/{flow_run.id}" if ui else None,
        },
    )
