"""The query files of ``queries/`` (or any ``.sql`` file): parse the header's description
and parameter declarations, list, resolve by name or path, bind parameters, run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pkharvest.errors import StoreError, UsageError, first_line
from pkharvest.paths import PROJECT_ROOT
from pkharvest.store.connection import StoreConnection

QUERIES_DIR = PROJECT_ROOT / "queries"
QUERY_SUFFIX = ".sql"


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str = ""
    default: str | None = None  # None = required

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class QuerySpec:
    """A SQL file of ``queries/`` (or any file) with the parameters its header declares."""

    name: str
    path: Path
    sql: str
    description: str
    params: tuple[QueryParam, ...] = field(default_factory=tuple)


_PARAM_LINE = re.compile(r"^--\s*\$(\w+)\s*(.*?)\s*(?:\[default:\s*(.*?)\s*\])?\s*$")
_PLACEHOLDER = re.compile(r"\$([A-Za-z_]\w*)")
_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
_LINE_COMMENT = re.compile(r"--[^\n]*")


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def sql_placeholders(sql: str) -> list[str]:
    """Named parameters (``$name``) used by a SQL text, ignoring comments and string literals."""
    body = _STRING_LITERAL.sub("''", _LINE_COMMENT.sub("", sql))
    seen: dict[str, None] = {}
    for name in _PLACEHOLDER.findall(body):
        seen.setdefault(name, None)
    return list(seen)


def _statement_count(sql: str) -> int:
    """How many statements DuckDB's parser finds in ``sql`` (1 when it cannot parse it: the
    syntax error is reported when the query runs, with its position)."""
    with duckdb.connect(":memory:") as con:
        try:
            return len(con.extract_statements(sql))
        except duckdb.Error:
            return 1


def parse_query(path: Path, name: str | None = None) -> QuerySpec:
    """Read a SQL file; its leading ``--`` comment is the description, and lines
    ``-- $name  description [default: value]`` declare its parameters (no default = required).
    A file that declares none takes the ``$name`` placeholders of its body, all required."""
    try:
        sql = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read query file {path}: {exc.strerror}", field="query") from None
    except UnicodeDecodeError:
        raise UsageError(f"query file {path}: not UTF-8 text", field="query") from None
    description: list[str] = []
    params: list[QueryParam] = []
    for line in sql.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if not stripped.startswith("--"):
            break
        match = _PARAM_LINE.match(stripped)
        if match:
            pname, desc, default = match.groups()
            params.append(QueryParam(pname, desc, None if default is None else _unquote(default)))
        elif not params:
            description.append(stripped.lstrip("-").strip())
    used = sql_placeholders(sql)
    if not params:
        params = [QueryParam(p) for p in used]
    else:
        undeclared = [p for p in used if p not in {q.name for q in params}]
        if undeclared:
            raise UsageError(
                f"query {path} uses undeclared parameter(s): {', '.join(undeclared)}",
                field="query",
            )
    body = sql.strip().rstrip(";").strip()
    count = _statement_count(body)
    if count == 0:
        raise UsageError(f"query file {path}: no SQL statement", field="query")
    if count > 1:
        # DuckDB would run them all and return the last result only
        raise UsageError(
            f"query file {path}: {count} SQL statements; a query file holds one", field="query"
        )
    return QuerySpec(
        name=name or path.stem,
        path=path,
        sql=body,
        description=" ".join(d for d in description if d),
        params=tuple(params),
    )


def list_queries(folder: Path = QUERIES_DIR) -> list[QuerySpec]:
    """The ready-made queries of the project's ``queries/`` folder."""
    return [parse_query(p) for p in sorted(folder.glob(f"*{QUERY_SUFFIX}"))]


def resolve_query(name_or_path: str | Path, folder: Path = QUERIES_DIR) -> QuerySpec:
    """A query by name (``queries/<name>.sql``) or by path to a ``.sql`` file."""
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.is_file():
        return parse_query(candidate)
    if re.fullmatch(r"[A-Za-z0-9_\-]+", text):
        named = folder / f"{text}{QUERY_SUFFIX}"
        if named.is_file():
            return parse_query(named, name=text)
    known = ", ".join(p.stem for p in sorted(folder.glob(f"*{QUERY_SUFFIX}")))
    raise UsageError(
        f"no query named {text!r} and no such file (known queries: {known or 'none'})",
        field="query",
    )


def bind_params(spec: QuerySpec, params: Mapping[str, str] | None) -> dict[str, str]:
    """Check user parameters against a query's declaration; apply defaults.

    Raises UsageError (option ``--param``) naming unknown and missing parameters."""
    given = dict(params or {})
    declared = {p.name: p for p in spec.params}
    unknown = sorted(set(given) - set(declared))
    missing = [p.name for p in spec.params if p.required and p.name not in given]
    problems = []
    if unknown:
        problems.append(f"unknown parameter(s) {', '.join(unknown)}")
    if missing:
        problems.append(f"missing parameter(s) {', '.join(missing)}")
    if problems:
        expected = ", ".join(p.name if p.required else f"{p.name} (optional)" for p in spec.params)
        raise UsageError(
            f"query {spec.name}: {'; '.join(problems)} (expected: {expected or 'none'})",
            field="param",
        )
    bound = {p.name: given.get(p.name, p.default) for p in spec.params}
    used = set(sql_placeholders(spec.sql))
    return {k: str(v) for k, v in bound.items() if k in used}


class QueryMixin(StoreConnection):
    """Running query files on :class:`pkharvest.store.Store`."""

    def run_query(
        self, name_or_path: str | Path, params: Mapping[str, str] | None = None
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run a query of ``queries/`` (by name) or a ``.sql`` file with bound parameters.

        Returns ``(columns, rows)``. Unknown/missing parameters raise UsageError naming them
        (option ``--param``); a failing query raises StoreError naming the file."""
        spec = resolve_query(name_or_path)
        bound = bind_params(spec, params)
        try:
            cur = self.con.execute(spec.sql, bound)
            columns = [d[0] for d in cur.description or []]
            rows = cur.fetchall() if cur.description else []
        except duckdb.Error as exc:
            msg = first_line(exc)
            raise StoreError(f"query {spec.path}: {msg}") from None
        return columns, rows
