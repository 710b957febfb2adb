"""Run the simulator in a child process (its own core), as the demo and benchmarks do."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

__all__ = ["admin_url", "spawn"]


@contextlib.contextmanager
def spawn(
    *,
    scale: int,
    seed: int = 42,
    port: int = 0,
    clock: str = "fixed",
    churn: float = 0.0,
    extra: list[str] | None = None,
) -> Iterator[str]:
    """Start ``gruponos simulator serve`` in a child process; yield its base URL; stop it.

    The fixed clock and no churn by default: the demo and the benchmarks need a tenant that
    changes only when they move its clock.
    """
    cmd = [sys.executable, "-m", "gruponos.cli", "simulator", "serve", "--quiet", "--port", str(port)]
    cmd += ["--scale", str(scale), "--seed", str(seed), "--clock", clock, "--churn", str(churn), *(extra or [])]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("http"):
            proc.wait(timeout=30)
            raise RuntimeError(f"the simulator did not start (exit code {proc.returncode})")
        yield line
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def admin_url(base_url: str) -> str:
    """The simulator's admin door (``http://host:port/_sim``) beside its ``…/wms/lgfapi/v10/``."""
    return base_url.split("/wms/lgfapi/")[0].rsplit("/", 1)[0] + "/_sim"
