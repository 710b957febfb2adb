"""dbt's ``api.Relation``: relations rendered as ``schema.identifier``."""

from typing import Any


class _Relation:
    def __init__(self, schema: str, identifier: str) -> None:
        self.schema, self.identifier = schema, identifier

    def __str__(self) -> str:
        return f"{self.schema}.{self.identifier}"


class Relation:
    @staticmethod
    def create(database: Any = None, schema: str = "analytics", identifier: str = "", **_: Any) -> _Relation:
        return _Relation(schema, identifier)
