"""gruponos: keeps an analytics warehouse in sync with an Oracle WMS Cloud tenant.

The library (no Prefect here; ``flows/`` is the orchestration over it):

settings      ``GRUPONOS_*`` settings (``load``)
entities      what an entity is, derived from the tenant's ``describe`` (+ overlays)
catalog       the tenant's entities, discovered and selected
wms           the streaming client of the entity API
quality       the contract: valid rows and quarantined ones
warehouse     DuckDB, PostgreSQL and Oracle targets, and what they know (``status``)
plan          what one run of one entity reads
pipeline      one entity's sync, plan to finish, as a ``returns`` chain
runs          many entities at once, without Prefect
landing       Parquet landings between the flows' steps
dbt_runner    the dbt project (``transform/``) from Python
redact        the one masker of secrets
errors        the exception tree and ``SyncError``
simulator     a fake WMS tenant over HTTP
cli, tap      the command line and the Singer tap
"""

__all__ = [
    "catalog",
    "dbt_runner",
    "entities",
    "errors",
    "landing",
    "pipeline",
    "plan",
    "quality",
    "redact",
    "runs",
    "settings",
    "warehouse",
    "wms",
]
