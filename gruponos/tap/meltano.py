"""The Meltano project in ``meltano/`` from Python: where it is, how to run it, and what its log says.

The ``meltano-run`` flow reads the Singer metrics (``record_counts``) and raises ``MeltanoError``;
the tests and the tap benchmark run jobs with ``install``/``run``.

    install()                                         # the loaders' venvs, once (uv-backed)
    run("incremental-sync-job", environment="prod")   # MeltanoError unless meltano exits 0

Meltano runs in a child process with the project's venv first on ``PATH``, so the extractor's
executable (``tap-oracle-wms``) is this package's console script. A non-zero exit raises
``MeltanoError`` carrying the last lines of the log, with secret values masked.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from gruponos.errors import Error

__all__ = ["PROJECT_DIR", "MeltanoError", "MeltanoRun", "install", "record_counts", "run"]

log = logging.getLogger(__name__)

PROJECT_DIR = Path(__file__).resolve().parents[2] / "meltano"  # the repository's Meltano project
_TAIL_LINES = 40
_SECRET_MARKERS = ("PASSWORD", "TOKEN", "SECRET", "SQLALCHEMY_URL", "DSN")


class MeltanoError(Error):
    """``meltano`` exited non-zero (the message ends with the last lines it logged)."""


@dataclass(frozen=True, slots=True)
class MeltanoRun:
    """A finished ``meltano`` command."""

    args: tuple[str, ...]
    seconds: float
    tail: tuple[str, ...]  # the last lines logged, secrets masked


def install(*, project_dir: Path = PROJECT_DIR, env: Mapping[str, str] | None = None) -> MeltanoRun:
    """``meltano install``: plugins whose venv is already current are skipped."""
    return _meltano(["install"], project_dir=project_dir, env=env)


def run(
    *blocks: str,
    environment: str = "dev",
    full_refresh: bool = False,
    state_id_suffix: str | None = None,
    project_dir: Path = PROJECT_DIR,
    env: Mapping[str, str] | None = None,
) -> MeltanoRun:
    """``meltano --environment=ENV run BLOCKS…`` (a job name, or ``tap-… target-…``)."""
    if not blocks:
        raise ValueError("meltano run needs a job or a tap and a target")
    args = [f"--environment={environment}", "run"]
    if full_refresh:
        args.append("--full-refresh")
    if state_id_suffix:
        args.append(f"--state-id-suffix={state_id_suffix}")
    return _meltano([*args, *blocks], project_dir=project_dir, env=env)


def _meltano(args: Sequence[str], *, project_dir: Path, env: Mapping[str, str] | None) -> MeltanoRun:
    """Run one meltano command, streaming its log to ours; MeltanoError on a non-zero exit."""
    full_env = _environment(env)
    command = [_executable(), *args]
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    secrets = [v for k, v in full_env.items() if v and len(v) > 3 and any(m in k.upper() for m in _SECRET_MARKERS)]
    started = time.perf_counter()
    log.info("meltano %s (in %s)", " ".join(args), project_dir)
    with subprocess.Popen(
        command,
        cwd=project_dir,
        env=full_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = _mask(line.rstrip("\n"), secrets)
            tail.append(line)
            log.debug("%s", line)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise MeltanoError(
            f"meltano {' '.join(args)} exited with code {process.returncode} after {seconds:.1f}s; last lines:\n"
            + "\n".join(tail)
        )
    return MeltanoRun(args=tuple(args), seconds=seconds, tail=tuple(tail))


def record_counts(lines: Iterable[str], plugin: str = "tap-") -> dict[str, int]:
    """Records per stream from the Singer ``record_count`` metrics a Meltano log shows for the
    plugins whose name starts with ``plugin`` (``tap-``: extracted; ``target-``: loaded)."""
    counts: dict[str, int] = {}
    decoder = json.JSONDecoder()
    for line in lines:
        at = line.find(" METRIC: ")
        if at < 0 or not line[:at].rsplit(" ", 1)[-1].startswith(plugin):
            continue
        try:
            metric, _ = decoder.raw_decode(line, at + len(" METRIC: "))
        except ValueError:
            continue
        if not isinstance(metric, dict) or metric.get("metric") != "record_count":
            continue
        stream = str((metric.get("tags") or {}).get("stream", "?"))
        counts[stream] = counts.get(stream, 0) + int(metric.get("value", 0))
    return counts


def _executable() -> str:
    """The ``meltano`` beside this interpreter (the project venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "meltano"
    return str(beside) if beside.exists() else "meltano"


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    """This process's environment, the venv's bin first on PATH, no usage tracking, plus ``extra``."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("MELTANO_SEND_ANONYMOUS_USAGE_STATS", "false")
    env.update(extra or {})
    return env


def _mask(line: str, secrets: Sequence[str]) -> str:
    """The line with every secret value replaced by ``***``."""
    for secret in secrets:
        if secret in line:
            line = line.replace(secret, "***")
    return line
