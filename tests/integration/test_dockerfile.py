"""The worker image, as far as this machine can check it without a Docker engine: hadolint
passes, and the commands the Dockerfile runs work on exactly the files it copies."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run([str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_image_runs_as_a_non_root_user_with_a_worker_as_its_command() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM prefecthq/prefect:3\.8\.8-python3\.11$", text, re.M)
    assert re.search(r"^USER 10001:10001$", text, re.M)
    assert "prefect worker start --pool" in text
    assert "uv sync --frozen" in text


@pytest.mark.skipif(shutil.which("uv") is None, reason="uv is not on PATH")
def test_the_dockerfiles_uv_sync_builds_a_working_environment_from_the_files_it_copies(tmp_path: Path) -> None:
    """Replay the Dockerfile's COPY and RUN uv sync steps in a folder of their own."""
    app = tmp_path / "opt-gruponos"
    app.mkdir()
    for line in DOCKERFILE.read_text().splitlines():
        if not line.startswith("COPY "):
            continue
        *sources, target = line.split()[1:]
        for source in sources:
            origin, destination = ROOT / source, app / target
            if origin.is_dir():
                shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__", "target", "logs"))
            elif target.endswith("/"):  # into a folder
                destination.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination / origin.name)
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, destination)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"))}
    env["UV_PROJECT_ENVIRONMENT"] = str(app / ".venv")
    for command in re.findall(r"uv sync [^\\\n&]+", DOCKERFILE.read_text()):
        done = subprocess.run(command.split(), cwd=app, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, f"{command}: {done.stderr[-3000:]}"
    python = app / ".venv" / "bin" / "python"
    imported = subprocess.run(
        [str(python), "-c", "import flows, gruponos.cli, dlt"], cwd=app, capture_output=True, text=True, timeout=300
    )
    assert "No module named 'dlt'" in imported.stderr, "the perf group must stay out of the image"
    imported = subprocess.run(
        [str(python), "-c", "import flows, gruponos.cli, prefect_dbt, prefect_shell, meltano"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert imported.returncode == 0, imported.stderr[-3000:]
    worker = subprocess.run(
        [str(app / ".venv" / "bin" / "prefect"), "worker", "start", "--help"],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worker.returncode == 0 and "--pool" in worker.stdout
