"""``dbt build --target oracle`` against a live Oracle / Autonomous Database, fed by the
library's own sync from a small simulator tenant.

Runs only when ``GRUPONOS_TEST_ORACLE_DSN`` (plus ``GRUPONOS_TEST_ORACLE_USER`` and
``GRUPONOS_TEST_ORACLE_PASSWORD``; optional ``GRUPONOS_TEST_ORACLE_SCHEMA`` for the raw
tables, default the user, and ``GRUPONOS_TEST_ORACLE_WALLET_DIR``/``_WALLET_PASSWORD``) is
set. The models, seeds and snapshots are built in the user's own schema; use a dedicated
test user.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DSN = os.environ.get("GRUPONOS_TEST_ORACLE_DSN") or ""
if not DSN:
    pytest.skip(
        "GRUPONOS_TEST_ORACLE_DSN is not set (with GRUPONOS_TEST_ORACLE_USER/_PASSWORD): no live Oracle to test",
        allow_module_level=True,
    )

import oracledb  # noqa: E402
from returns.io import IOFailure  # noqa: E402
from returns.unsafe import unsafe_perform_io  # noqa: E402

from gruponos import dbt_runner  # noqa: E402
from gruponos import settings as settings_module  # noqa: E402
from gruponos.pipeline import Context, sync_entity  # noqa: E402
from gruponos.simulator import Simulator  # noqa: E402
from gruponos.warehouse import connect  # noqa: E402
from gruponos.wms import WmsClient  # noqa: E402
from tests.specs import read_by_dbt  # noqa: E402

USER = os.environ.get("GRUPONOS_TEST_ORACLE_USER") or ""
PASSWORD = os.environ.get("GRUPONOS_TEST_ORACLE_PASSWORD") or ""
SCHEMA = os.environ.get("GRUPONOS_TEST_ORACLE_SCHEMA") or USER
WALLET_DIR = os.environ.get("GRUPONOS_TEST_ORACLE_WALLET_DIR")
WALLET_PASSWORD = os.environ.get("GRUPONOS_TEST_ORACLE_WALLET_PASSWORD")

pytestmark = pytest.mark.slow


def test_dbt_build_on_oracle_builds_every_mart_from_the_synced_tenant(tmp_path: Path) -> None:
    warehouse: dict[str, object] = {"kind": "oracle", "dsn": DSN, "user": USER, "password": PASSWORD, "schema": SCHEMA}
    if WALLET_DIR:
        warehouse |= {"wallet_dir": WALLET_DIR, "wallet_password": WALLET_PASSWORD}
    with Simulator(scale=300, seed=5) as sim:
        cfg = settings_module.load(env="local", wms={"base_url": sim.base_url, "page_size": 500}, warehouse=warehouse)
        wh = connect(cfg.warehouse)
        try:
            with WmsClient(cfg.wms) as wms:
                for spec in read_by_dbt(wms).values():
                    result = sync_entity(spec, "full", Context(settings=cfg, wms=wms, warehouse=wh))
                    assert not isinstance(result, IOFailure), unsafe_perform_io(result.failure())
        finally:
            wh.close()
        orders, items = sim.tenant.count("order_hdr"), sim.tenant.count("item")
        po_lines = sim.tenant.count("purchase_order_dtl")

    build = dbt_runner.invoke(["build"], cfg, target_path=tmp_path / "target", log_path=tmp_path / "logs")
    assert build.success, build.exception

    extra = {"config_dir": WALLET_DIR, "wallet_location": WALLET_DIR, "wallet_password": WALLET_PASSWORD}
    with oracledb.connect(user=USER, password=PASSWORD, dsn=DSN, **(extra if WALLET_DIR else {})) as conn:
        cur = conn.cursor()
        cur.execute("select count(*) from fct_order_fulfillment")
        assert cur.fetchone() == (orders,)
        cur.execute("select count(*) from dim_items")
        assert cur.fetchone() == (items,)
        cur.execute("select count(*) from fct_inbound_receipts")
        assert cur.fetchone() == (po_lines,)
        cur.execute("select count(*) from fct_order_fulfillment where fill_rate < 0 or fill_rate > 1")
        assert cur.fetchone() == (0,)
