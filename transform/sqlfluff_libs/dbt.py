"""dbt's own macros (``dbt.dateadd`` ...), rendered as a placeholder call ``dbt_<name>(...)``."""

from typing import Any


def __getattr__(name: str) -> Any:
    def call(*args: Any) -> str:
        return f"dbt_{name}({', '.join(str(a).strip(chr(39)) for a in args)})"

    return call
