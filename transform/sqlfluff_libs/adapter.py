"""dbt's ``adapter``: dispatch to the project's macros, no introspection."""

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from sqlfluff_libs._target import TYPE


@pass_context
def dispatch(context: Context, name: str, macro_namespace: str | None = None) -> Any:
    """``<target>__name`` when the project has it, else ``default__name``."""
    for candidate in (f"{TYPE}__{name}", f"default__{name}"):
        if candidate in context:
            return context[candidate]
    raise KeyError(f"no macro {name} for {TYPE}")


def get_columns_in_relation(relation: Any) -> list[Any]:
    """No database to ask."""
    return []


def quote(identifier: str) -> str:
    return f'"{identifier}"'
