"""Reading generated SQL back as a tree (sqlglot), so SQL tests check what a statement does:
the table it writes, the columns it names, the keys it joins on, the binds it takes."""

from __future__ import annotations

from sqlglot import exp, parse_one

__all__ = ["assignments", "binds", "columns_defined", "inserted_columns", "join_keys", "parse", "strings", "target"]


def parse(sql: str, dialect: str) -> exp.Expression:
    return parse_one(sql, read=dialect)


def target(tree: exp.Expression) -> str:
    """The table a statement writes, creates, alters or (a SELECT) reads first."""
    node = tree.this if not isinstance(tree, exp.Select) else tree.args["from_"].this
    if isinstance(node, exp.Schema):
        node = node.this
    assert isinstance(node, exp.Table), type(node)
    return node.name


def binds(tree: exp.Expression) -> list[str]:
    """Bind names in the order they appear (positional markers as ``?``)."""
    return [p.name for p in tree.find_all(exp.Placeholder, bfs=False)]


def inserted_columns(tree: exp.Expression) -> list[str]:
    """The column list of an INSERT (or of a MERGE's WHEN NOT MATCHED THEN INSERT)."""
    if isinstance(tree, exp.Insert):
        return [i.name for i in tree.this.expressions]
    (insert,) = [w.args["then"] for w in tree.find_all(exp.When) if isinstance(w.args["then"], exp.Insert)]
    return [c.name for c in insert.this.expressions]


def assignments(node: exp.Expression) -> dict[str, exp.Expression]:
    """Column → assigned expression of an UPDATE, or of a MERGE's ``WHEN MATCHED`` clause."""
    sets = node.args["expressions"] if isinstance(node, exp.Update) else node.expressions
    return {eq.this.name: eq.expression for eq in sets}


def join_keys(node: exp.Expression) -> set[tuple[str, str]]:
    """The column pairs an ON / WHERE condition equates, as (left name, right name)."""
    return {
        (eq.this.name, eq.expression.name)
        for eq in node.find_all(exp.EQ)
        if isinstance(eq.this, exp.Column) and isinstance(eq.expression, exp.Column)
    }


def columns_defined(tree: exp.Expression) -> dict[str, exp.ColumnDef]:
    """Column name → its definition in a CREATE TABLE."""
    return {c.this.name: c for c in tree.find_all(exp.ColumnDef)}


def strings(tree: exp.Expression) -> set[str]:
    """Every string literal of a statement (values must be bound, never written into SQL)."""
    return {lit.this for lit in tree.find_all(exp.Literal) if lit.is_string}
