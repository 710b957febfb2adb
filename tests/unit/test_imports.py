"""What importing the flows and the CLI costs: the heavy packages load only when their step runs."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("dbt", "prefect_dbt", "singer_sdk", "prefect_shell", "meltano")


def _loaded(statement: str) -> set[str]:
    probe = f"import sys; {statement}; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_importing_the_sync_flows_loads_no_dbt_singer_shell_or_meltano() -> None:
    loaded = _loaded("import flows, flows.sync, flows.tasks, flows.health")
    assert "prefect" in loaded  # the probe does import what it should
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_the_command_line_loads_neither_prefect_nor_dbt_until_asked() -> None:
    loaded = _loaded("import gruponos.cli.app")
    assert "gruponos" in loaded and "typer" in loaded
    assert not loaded & {"prefect", *HEAVY}, loaded & {"prefect", *HEAVY}
