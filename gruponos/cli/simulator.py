"""``gruponos simulator serve``: the bundled WMS tenant over HTTP on 127.0.0.1."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from gruponos import settings as settings_module
from gruponos.cli.output import err_console

app = typer.Typer(help="The bundled Oracle WMS simulator.", no_args_is_help=True)


@app.command("serve")
def simulator_serve(
    port: Annotated[int, typer.Option(help="TCP port on 127.0.0.1 (0 picks a free one).")] = 8765,
    seed: Annotated[int, typer.Option(help="Same seed, same tenant.")] = 42,
    scale: Annotated[int, typer.Option(min=1, help="Number of allocations; other entities in proportion.")] = 100_000,
    username: Annotated[str | None, typer.Option(help="Basic-auth user (default: the local environment's).")] = None,
    password: Annotated[
        str | None, typer.Option(help="Basic-auth password (default: the local environment's).")
    ] = None,
    token: Annotated[str | None, typer.Option(help="Also accept this Bearer token.")] = None,
    environment: Annotated[str, typer.Option(help="The {environment} segment of the URL.")] = "local",
    faults: Annotated[str | None, typer.Option(help="Faults as JSON, e.g. '{\"latency_s\": 0.2}'.")] = None,
    verbose: Annotated[bool, typer.Option(help="Log every request.")] = False,
    quiet: Annotated[bool, typer.Option(help="Print only the base URL.")] = False,
) -> None:
    """Serve a seeded WMS tenant; print its base URL as the first line, then run until stopped."""
    from gruponos.simulator import Faults, Simulator

    local = settings_module.Settings(env=settings_module.Environment.LOCAL)
    user = username or local.wms.username or settings_module.LOCAL_USERNAME
    secret = password or (local.wms.password.get_secret_value() if local.wms.password else "")
    try:
        fault_cfg = Faults.from_dict(orjson.loads(faults)) if faults else Faults()
    except (ValueError, TypeError) as exc:
        err_console.print(f"[red]--faults: {escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    sim = Simulator(
        scale=scale,
        seed=seed,
        username=user,
        password=secret,
        token=token,
        environment=environment,
        port=port,
        faults=fault_cfg,
        verbose=verbose,
    )
    try:
        sim.start()
    except OSError as exc:
        err_console.print(f"[red]cannot listen on 127.0.0.1:{port}: {exc.strerror}[/red]")
        raise typer.Exit(1) from None
    print(sim.base_url, flush=True)
    if not quiet:
        err_console.print(
            f"WMS simulator: {sim.tenant.count('allocation'):,} allocations (seed {seed}) at {sim.base_url} "
            f"as user {user!r}; admin at http://127.0.0.1:{sim.port}/_sim/status. Ctrl-C stops."
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
