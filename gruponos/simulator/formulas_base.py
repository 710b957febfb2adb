"""The SQL primitives the simulated tenant's formulas are written with, on a row index ``i``.

Deterministic draws (``u``, ``pick``), natural keys (``CO01``, ``SO000000042``, as each entity's
``key_format`` says), foreign keys as the ``(id, key)`` pair of the target's row, and the
defaults for fields no entity rule covers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gruponos.simulator.schema import LOOKUP_ROWS, REFERENCE_KEYS, SCHEMA, Field, Kind

__all__ = ["ASN_LINES_PER_PO", "HISTORY_DAYS", "USERS", "FormulaBase", "ts_sql", "us"]

HISTORY_DAYS = 120  # rows were created in the days before the tenant's epoch

USERS = "['ana.souza', 'bruno.lima', 'carla.dias', 'diego.rocha', 'edu.alves', 'fabi.nunes']"
ASN_LINES_PER_PO = 3


def ts_sql(ts: datetime) -> str:
    return f"timestamp '{ts.astimezone(UTC).replace(tzinfo=None).isoformat(sep=' ')}'"


def us(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1_000_000)


def _lpad(prefix: str, expr: str, width: int) -> str:
    return f"'{prefix}' || lpad(cast({expr} as varchar), {width}, '0')"


class FormulaBase:
    """The primitives and the defaults: what every entity's formulas are made of."""

    def __init__(self, *, seed: int, counts: dict[str, int], epoch: datetime) -> None:
        self.seed = seed
        self.c = counts
        self.epoch = epoch

    # --- primitives ----------------------------------------------------------------------

    def u(self, expr: str, salt: str) -> str:
        """A deterministic uniform value in [0, 1) of ``expr``."""
        return f"((hash({expr}, {self.seed}, '{salt}') % 1000003) / 1000003.0)"

    def pick(self, expr: str, salt: str, n: int | str) -> str:
        """A deterministic integer in [1, n] of ``expr``."""
        return f"cast(1 + (hash({expr}, {self.seed}, '{salt}') % ({n})) as bigint)"

    def key(self, target: str, ident: str) -> str:
        """SQL for the FK ``key`` of row ``ident`` of ``target`` (what its key field holds)."""
        if target in SCHEMA and (natural := SCHEMA[target].key_format) is not None:
            prefix, width = natural
            return _lpad(prefix, ident, width)
        match target:
            case "inventory":
                return f"'{SCHEMA['inventory'].key_prefix}' || cast({ident} as varchar)"
            case _ if target in LOOKUP_ROWS:
                spec = SCHEMA[target]
                at = [f.name for f in spec.fields].index(spec.key)
                lit = "[" + ", ".join(_quote(str(row[at])) for row in LOOKUP_ROWS[target]) + "]"
                ids = "[" + ", ".join(str(row[0]) for row in LOOKUP_ROWS[target]) + "]"
                return f"{lit}[list_position({ids}, {ident})]"
            case _ if target in REFERENCE_KEYS:
                lit = "[" + ", ".join(_quote(k) for k in REFERENCE_KEYS[target]) + "]"
                return f"{lit}[{ident}]"
            case _:
                return f"cast({ident} as varchar)"

    def fk(self, target: str, ident: str, *, null_if: str | None = None) -> tuple[str, str]:
        """(id, key) SQL of an FK to row ``ident`` of ``target``, null where ``null_if`` holds."""
        if null_if is None:
            return ident, self.key(target, ident)
        return (
            f"case when {null_if} then null else {ident} end",
            f"case when {null_if} then null else {self.key(target, ident)} end",
        )

    def size(self, target: str) -> int:
        if target in REFERENCE_KEYS:
            return len(REFERENCE_KEYS[target])
        return self.c[target]

    def default_fk(self, f: Field) -> tuple[str, str]:
        """An FK with no entity-specific rule: any row of its target (30 % null unless required)."""
        assert f.target is not None
        ident = self.pick("i", f"{self.scope}:{f.name}", self.size(f.target))
        if f.target in LOOKUP_ROWS:
            ids = "[" + ", ".join(str(r[0]) for r in LOOKUP_ROWS[f.target]) + "]"
            ident = f"{ids}[{ident}]"
        null = None if f.mandatory else f"{self.u('i', f'{self.scope}:{f.name}n')} < 0.3"
        return self.fk(f.target, ident, null_if=null)

    def default(self, f: Field) -> str:
        """SQL for a field with no entity-specific rule (custom fields mostly null)."""
        sparse = f.name.startswith("cust_")
        null = f"{self.u('i', f'{self.scope}:{f.name}n')} < {0.8 if sparse else 0.1}"
        r, pick = self.r, self.p
        kind_sql = {
            Kind.STR: f"left('{f.name[:6].upper()}-' || {pick(f.name, 997)}, {f.max_length or 255})",
            Kind.INT: f"{pick(f.name, 100)}",
            Kind.STATUS: f"{pick(f.name, 100)}",
            Kind.DECIMAL: f"cast(round({r(f.name)} * 1000, 2) as decimal(18,4))",
            Kind.DATE: f"cast(_created as date) + cast({pick(f.name, 30)} as integer)",
            Kind.TIME: "cast(date_trunc('second', _created) as time)",
            Kind.FLG: f"{r(f.name)} < 0.3",
            Kind.TS: "_created",
        }
        return f"case when {null} then null else {kind_sql[f.kind]} end"

    # Per-entity salted shorthands on the row index ``i`` (``scope`` is the entity generated).
    scope = ""

    def r(self, salt: str) -> str:
        return self.u("i", f"{self.scope}:{salt}")

    def p(self, salt: str, n: int | str) -> str:
        return self.pick("i", f"{self.scope}:{salt}", n)

    # --- where a row is ---------------------------------------------------------------

    def facility_of(self, expr: str) -> str:
        return f"(1 + (({expr}) - 1) % {self.c['facility']})"

    def company_of_facility(self, expr: str) -> str:
        return f"(1 + (({expr}) - 1) % {self.c['company']})"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
