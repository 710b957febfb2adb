"""The dbt runner: the dbt project (``transform/``) seen from Python: where it is, how to point it at the
warehouse the settings describe, how to run it, and one read of its marts for the demo.

    cfg = settings.load()
    result = dbt_runner.invoke(["build"], cfg)          # dbtRunner, in this process
    if not result.success: ...
    result = dbt_runner.production_build(cfg)           # the build after a sync (see there)
    for row in dbt_runner.top_facilities(cfg.warehouse.path):
        print(row.facility_code, row.fulfillment_rate)

Or with any other dbt runner (PrefectDbtRunner, a subprocess)::

    with dbt_runner.environment(cfg):                    # the variables profiles.yml reads
        runner.invoke(dbt_runner.dbt_args("build", cfg))

``project``: where the project is and the variables and arguments that point dbt at the
warehouse; ``run``: dbt in this process, and what a run did; ``production``: the build a sync
runs and the full rebuild; ``marts``: the demo's read of the marts.
"""

from gruponos.dbt_runner.marts import FacilityFulfillment, top_facilities
from gruponos.dbt_runner.production import (
    PRODUCTION_EXCLUDES,
    QUIET_SELECTION,
    TEST_SCOPE,
    BuildPlan,
    build_args,
    changed_sources,
    data_test_scope,
    forget_lost_state,
    production_args,
    production_build,
    record_state,
)
from gruponos.dbt_runner.project import (
    DEFAULT_SCHEMA,
    PROJECT_DIR,
    TARGETS,
    DbtEnv,
    dbt_args,
    dbt_env,
    dbt_target,
    declared_sources,
    environment,
    freshness_hours,
    project_vars,
    work_dir,
)
from gruponos.dbt_runner.run import (
    failures,
    invoke,
    missing_sources,
    relation_exists,
    release_duckdb,
    source_exclusions,
    summary,
)

__all__ = [
    "DEFAULT_SCHEMA",
    "PRODUCTION_EXCLUDES",
    "PROJECT_DIR",
    "QUIET_SELECTION",
    "TARGETS",
    "TEST_SCOPE",
    "BuildPlan",
    "DbtEnv",
    "FacilityFulfillment",
    "build_args",
    "changed_sources",
    "data_test_scope",
    "dbt_args",
    "dbt_env",
    "dbt_target",
    "declared_sources",
    "environment",
    "failures",
    "forget_lost_state",
    "freshness_hours",
    "invoke",
    "missing_sources",
    "production_args",
    "production_build",
    "project_vars",
    "record_state",
    "relation_exists",
    "release_duckdb",
    "source_exclusions",
    "summary",
    "top_facilities",
    "work_dir",
]
