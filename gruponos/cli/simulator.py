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
    clock: Annotated[
        str,
        typer.Option(help="realtime: the wall clock, changes stamped now; fixed: starts 2026-11-01, moves on advance."),
    ] = "realtime",
    churn: Annotated[
        float | None, typer.Option(min=0, help="Records changed per second (realtime only; default 1, fixed: 0).")
    ] = None,
    modify_share: Annotated[float, typer.Option(min=0, help="Share of the churn that modifies records.")] = 0.80,
    insert_share: Annotated[float, typer.Option(min=0, help="Share of the churn that inserts records.")] = 0.15,
    delete_share: Annotated[float, typer.Option(min=0, help="Share of the churn that deletes records.")] = 0.05,
    late_commit_share: Annotated[
        float, typer.Option(min=0, max=1, help="Share of changes visible only --late-commit-s after their mod_ts.")
    ] = 0.05,
    late_commit_s: Annotated[float, typer.Option(min=0, help="Seconds a late commit stays invisible.")] = 60.0,
    tls: Annotated[
        bool, typer.Option(help="Serve HTTPS with a self-signed certificate written to --data-dir.")
    ] = False,
    data_dir: Annotated[
        str, typer.Option(help="Where the certificate and the rendered pages live.")
    ] = "data/simulator",
    verbose: Annotated[bool, typer.Option(help="Log every request.")] = False,
    quiet: Annotated[bool, typer.Option(help="Print only the base URL.")] = False,
) -> None:
    """Serve a seeded WMS tenant; print its base URL as the first line, then run until stopped."""
    from gruponos.simulator import Faults, Simulator, Workload
    from gruponos.simulator.process import admin_url

    local = settings_module.Settings(env=settings_module.Environment.LOCAL)
    user = username or local.wms.username or settings_module.LOCAL_USERNAME
    secret = password or (local.wms.password.get_secret_value() if local.wms.password else "")
    if clock not in ("realtime", "fixed"):
        err_console.print(f"[red]--clock must be realtime or fixed, not {escape(repr(clock))}[/red]")
        raise typer.Exit(2)
    rate = churn if churn is not None else (1.0 if clock == "realtime" else 0.0)
    try:
        fault_cfg = Faults.from_dict(orjson.loads(faults)) if faults else Faults()
        workload = Workload(
            rate=rate,
            modify=modify_share,
            insert=insert_share,
            delete=delete_share,
            late_share=late_commit_share,
            late_s=late_commit_s,
        )
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
            clock="realtime" if clock == "realtime" else "fixed",
            workload=workload,
            tls=tls,
            data_dir=data_dir,
        )
    except (ValueError, TypeError) as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    try:
        sim.start()
    except OSError as exc:
        err_console.print(f"[red]cannot listen on 127.0.0.1:{port}: {exc.strerror}[/red]")
        raise typer.Exit(1) from None
    print(sim.base_url, flush=True)
    if not quiet:
        living = f"{rate:g} changes/s, {late_commit_share:.0%} committing {late_commit_s:g} s late" if rate else "quiet"
        err_console.print(
            f"WMS simulator: {sim.tenant.count('allocation'):,} allocations (seed {seed}, {clock} clock, {living}) "
            f"at {sim.base_url} as user {user!r}; admin at {admin_url(sim.base_url)}/status. Ctrl-C stops."
        )
    if sim.ca_bundle is not None:
        err_console.print(f"TLS certificate (trust it with GRUPONOS_WMS__CA_BUNDLE): {sim.ca_bundle.resolve()}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
