"""The run's report: one markdown artifact per flow run, keyed so the dashboard versions it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from prefect.artifacts import create_markdown_artifact

from gruponos.errors import SyncError
from gruponos.pipeline import EntityReport
from gruponos.redact import redact
from gruponos.settings import Settings

__all__ = ["markdown", "publish"]


def _ts(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def markdown(title: str, outcomes: Sequence[EntityReport | SyncError], cfg: Settings, dbt: str | None = None) -> str:
    """A table per entity (counts, speed, watermarks), the failures, dbt's result, where the quarantine is."""
    lines = [
        f"# {title}",
        "",
        "| entity | status | extracted | rejected | inserted | updated | restored | deleted | seconds | records/s "
        "| watermark before | watermark after |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ]
    for o in outcomes:
        if isinstance(o, SyncError):
            lines.append(f"| {o.entity} | **failed** ({o.step}) | | | | | | | | | | |")
            continue
        lines.append(
            f"| {o.entity} | ok | {o.extracted:,} | {o.rejected:,} | {o.inserted:,} | {o.updated:,} | {o.restored:,} "
            f"| {o.deleted:,} "
            f"| {o.seconds:.1f} | {o.records_per_s:,.0f} | {_ts(o.watermark_before)} | {_ts(o.watermark_after)} |"
        )
    lines += ["", "## dbt", "", dbt or "not run (`run_dbt=false`, or an entity failed)"]
    failures = [o for o in outcomes if isinstance(o, SyncError)]
    if failures:
        lines += ["", "## Failures", ""] + [f"- {f}".replace("|", "\\|") for f in failures]
    rejected = [o for o in outcomes if isinstance(o, EntityReport) and o.rejected]
    schema = cfg.warehouse.db_schema
    lines += ["", "## Quarantine", ""]
    if rejected:
        runs = ", ".join(f"'{o.run_id}'" for o in rejected)
        lines += [
            f"{sum(o.rejected for o in rejected):,} rejected records; to see them:",
            "",
            f"```sql\nselect entity, record_id, rule, message, raw_json from {schema}._rejected "
            f"where run_id in ({runs}) order by entity, record_id\n```",
        ]
    else:
        lines.append(f"No record was rejected (quarantine table: `{schema}._rejected`).")
    return "\n".join(lines)


def publish(
    key: str, title: str, outcomes: Sequence[EntityReport | SyncError], cfg: Settings, *, dbt: str | None = None
) -> None:
    """Publish the report under ``key`` (lowercase, dashes): the dashboard keeps its versions."""
    failed = sum(isinstance(o, SyncError) for o in outcomes)
    create_markdown_artifact(
        key=key,
        markdown=redact(markdown(title, outcomes, cfg, dbt)),
        description=f"{len(outcomes) - failed} entities synced, {failed} failed",
    )
