"""Classification of tables (pk / demographic / other) and extraction of one measurement per
value cell of a pk table, in either orientation. The rules are listed in docs/fulltext.md.

Parameters go through the project's vocabulary (:mod:`pkharvest.normalise.parameters`) and units
through :mod:`pkharvest.normalise.units`; every measurement ends in
:func:`pkharvest.normalise.normalise` like the ones read from sentences.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pkharvest.normalise import lookup_parameter, normalise, parse_unit
from pkharvest.normalise.parameters import ParameterMatch
from pkharvest.records import ArticleTable, Measurement
from pkharvest.tables.cells import MEASUREMENT_TYPE, CellValue, StatSpec, parse_cell, statistic_in
from pkharvest.tables.grid import Cell

if TYPE_CHECKING:  # jats imports tables.grid; the table type is only needed for hints
    from pkharvest.fulltext.jats import JatsTable

logger = logging.getLogger(__name__)

KINDS = ("pk", "demographic", "other")
GROUP_SEPARATOR = " / "
#: A parameter name must match the vocabulary at least this well (1.0 exact, 0.95 a weaker
#: reading such as "name (symbol)", below that fuzzy).
MIN_PARAMETER_SCORE = 0.9

_DEMOGRAPHIC_RE = re.compile(
    r"\b(?:age|ages|weight|body\s*weight|height|BMI|body\s+mass\s+index|sex|gender|males?|"
    r"females?|men|women|race|ethnicity|white|black|asian|caucasian|hispanic|creatinine|eGFR|"
    r"albumin|BSA|body\s+surface\s+area|smok\w*|ALT|AST|bilirubin|h(?:a)?emoglobin|"
    r"gestational|APACHE|SOFA|diagnosis|comorbidit\w*|ECOG|child-?pugh)\b",
    re.IGNORECASE,
)
_PK_CAPTION_RE = re.compile(
    r"pharmacokinetic|\bPK\b|\bexposure\b|\bNCA\b|non-?compartmental", re.IGNORECASE
)
_DEMO_CAPTION_RE = re.compile(
    r"demographic|baseline\s+characteristics|patient\s+characteristics|"
    r"subject\s+characteristics|participant\s+characteristics|clinical\s+characteristics",
    re.IGNORECASE,
)
#: Columns (or rows) that compare groups rather than report one.
_NOT_GROUP_RE = re.compile(
    r"^\s*p\s*$|\bp[\s-]*values?\b|^\s*p\s*[(<=]|\bratio\b|\bGMR\b|\bdifference\b|"
    r"\bfold\b|%\s*change|\bchange\b|\bsignifican\w*|\bstatistic\b|\bt[\s-]?test\b",
    re.IGNORECASE,
)
_UNIT_HEADER_RE = re.compile(r"^\s*units?\s*$", re.IGNORECASE)
_N_HEADER_RE = re.compile(
    r"^\s*(?:n|no\.?|number(?:\s+of\s+(?:subjects|patients|participants|children))?)\s*$",
    re.IGNORECASE,
)
_N_IN_TEXT_RE = re.compile(r"\b[nN]\s*[=:]\s*(\d+)\b|\(\s*[nN]\s+(\d+)\s*\)")
_PARAMETER_HEADER_RE = re.compile(r"^\s*(?:pk\s+)?parameters?\b", re.IGNORECASE)


@dataclass(frozen=True)
class TableResult:
    """A table as stored plus the measurements read from it."""

    table: ArticleTable
    measurements: tuple[Measurement, ...]


# ------------------------------------------------------------------------------- helpers


def _is_unit(text: str) -> bool:
    text = text.strip()
    if not text or len(text) > 40 or statistic_in(text).known:
        return False
    if not re.search(r"[A-Za-zµμ%]", text) or _N_IN_TEXT_RE.search(text):
        return False
    res = parse_unit(text)
    return res.ok and res.kind is not None


def split_name_unit(text: str) -> tuple[str, str | None]:
    """ "Cmax (ng/mL)" → ("Cmax", "ng/mL"); also "[ng/mL]" and "Cmax, ng/mL". A trailing
    statistic ("Tmax (h), median (range)") is dropped from the name."""
    t = text.strip()
    # drop trailing statistic phrases ", mean ± SD" / "(mean ± SD)"
    for _ in range(2):
        m = re.search(r"(?:,|;)\s*([^,;]+)$", t)
        if m and statistic_in(m.group(1)).known and not _is_unit(m.group(1)):
            t = t[: m.start()].strip()
        m = re.search(r"[(\[]([^()\[\]]+)[)\]]\s*$", t)
        if m and statistic_in(m.group(1)).known and not _is_unit(m.group(1)):
            t = t[: m.start()].strip()
    m = re.search(r"[(\[]([^()\[\]]+)[)\]]\s*$", t)
    if m and _is_unit(m.group(1)):
        return t[: m.start()].strip(" ,"), m.group(1).strip()
    m = re.search(r",\s*([^,]+)$", t)
    if m and _is_unit(m.group(1)):
        return t[: m.start()].strip(), m.group(1).strip()
    return t, None


def match_parameter(text: str) -> ParameterMatch | None:
    """The PK parameter (not a covariate) a stub or header names, or None."""
    name, _ = split_name_unit(text)
    if not name or len(name) > 80:
        return None
    match = lookup_parameter(name).match
    if match is None or match.category != "pk" or match.score < MIN_PARAMETER_SCORE:
        return None
    return match


def _n_in(text: str | None) -> int | None:
    if not text:
        return None
    m = _N_IN_TEXT_RE.search(text)
    return int(m.group(1) or m.group(2)) if m else None


def _caption_n(caption: str) -> int | None:
    """The caption's n when it gives exactly one ("... (n = 16)")."""
    found = {int(a or b) for a, b in _N_IN_TEXT_RE.findall(caption or "")}
    return found.pop() if len(found) == 1 else None


_STAT_WORDS_RE = re.compile(
    r"\b(?:geo(?:metric)?|arithmetic|mean|means|median|medians|SD|SE|SEM|CV|IQR|range|min|max|"
    r"minimum|maximum|inter-?\s?quartile|standard|deviation|error|CI|confidence|interval|"
    r"values?|estimates?|results?|data)\b|[±%()\[\]\d,;:–-]",
    re.IGNORECASE,
)


_SPREAD_HEADER_RE = re.compile(r"^\s*(?:min(?:imum)?|max(?:imum)?)\b", re.IGNORECASE)


def _dispersion_only(text: str) -> bool:
    """A header naming only a dispersion ("SD", "CV%", "Range", "95% CI", "Min", "Max")."""
    if not text.strip() or not _only_statistic(text):
        return False
    spec = statistic_in(text)
    return spec.statistic is None and (
        spec.dispersion is not None or bool(_SPREAD_HEADER_RE.match(text))
    )


def _only_statistic(text: str) -> bool:
    """A header that names the statistic only ("Median [IQR]", "Mean ± SD", "Value")."""
    return not re.search(r"[A-Za-z]", _STAT_WORDS_RE.sub(" ", text))


def _join(parts: Sequence[str]) -> str:
    out: list[str] = []
    for p in parts:
        p = p.strip()
        if p and (not out or out[-1] != p) and not _only_statistic(p):
            out.append(p)
    return GROUP_SEPARATOR.join(out)


def _header_parts(table: JatsTable, col: int) -> list[Cell]:
    cells: list[Cell] = []
    for row in table.header:
        cell = row[col]
        if cell.text and (not cells or cells[-1].text != cell.text):
            cells.append(cell)
    return cells


def _numeric_share(table: JatsTable, col: int) -> float:
    texts = [row[col].text for row in table.body if row[col].text]
    if not texts:
        return 0.0
    return sum(parse_cell(t) is not None for t in texts) / len(texts)


def _stub_columns(table: JatsTable) -> list[int]:
    """Leading columns that hold labels rather than numbers."""
    stubs: list[int] = []
    for c in range(table.width):
        if _numeric_share(table, c) < 0.5:
            stubs.append(c)
        else:
            break
    return stubs or [0]


def _is_heading_row(row: Sequence[Cell], stubs: Sequence[int]) -> bool:
    """A body row that only names a group ("Day 1", "Healthy volunteers"): one text, spread
    over the row by a colspan or alone in the stub."""
    texts = {c.text for c in row if c.text}
    if len(texts) != 1:
        return False
    text = next(iter(texts))
    return parse_cell(text) is None and bool(row[stubs[0]].text)


# ------------------------------------------------------------------------------ classify


def classify(table: JatsTable) -> str:
    """pk / demographic / other (rules in docs/fulltext.md)."""
    labels: list[str] = []
    stubs = _stub_columns(table)
    for row in table.body:
        labels.extend(row[c].text for c in stubs if row[c].text)
    for c in range(table.width):
        labels.extend(cell.text for cell in _header_parts(table, c))
    labels = list(dict.fromkeys(labels))
    pk_hits = sum(match_parameter(t) is not None for t in labels)
    demo_hits = sum(bool(_DEMOGRAPHIC_RE.search(t)) and match_parameter(t) is None for t in labels)
    numbers = sum(parse_cell(c.text) is not None for row in table.body for c in row)
    caption = f"{table.label or ''} {table.caption}"
    if numbers == 0:
        return "other"
    if pk_hits >= 2 and pk_hits > demo_hits:
        return "pk"
    if demo_hits >= 2 and demo_hits >= pk_hits:
        return "demographic"
    if _DEMO_CAPTION_RE.search(caption) and demo_hits >= pk_hits:
        return "demographic"
    if pk_hits >= 1 and _PK_CAPTION_RE.search(caption):
        return "pk"
    return "other"


# ------------------------------------------------------------------------------- extract


@dataclass
class _Context:
    table: JatsTable
    pmid: str
    pmcid: str | None
    caption_spec: StatSpec
    general_spec: StatSpec
    caption_n: int | None


def _spec_of_cells(ctx: _Context, cells: Sequence[Cell]) -> StatSpec:
    spec = StatSpec()
    for cell in cells:
        for note in ctx.table.notes_for(cell.markers):
            spec = spec.merged(statistic_in(note))
    return spec


def _deviation_fields(cv: CellValue, spec: StatSpec) -> tuple[str | None, float | None]:
    if cv.low is not None and cv.high is not None:
        if spec.dispersion in ("range", "IQR") or (spec.dispersion or "").endswith("CI"):
            return spec.dispersion, None
        return "range", None
    if cv.deviation is None:
        return None, None
    if spec.dispersion in ("SD", "SE", "CV"):
        return spec.dispersion, cv.deviation
    if cv.deviation_percent:
        return "CV", cv.deviation
    return None, cv.deviation


def _measurement(
    ctx: _Context,
    *,
    param_text: str,
    unit_text: str | None,
    row: int,
    col: int,
    cell: Cell,
    cv: CellValue,
    spec: StatSpec,
    group: str,
    n: int | None,
    row_header: str,
    col_header: str,
) -> Measurement:
    dev_type, deviation = _deviation_fields(cv, spec)
    value, low, high = cv.value, cv.low, cv.high
    table = ctx.table
    label = table.label or table.table_id
    m = Measurement(
        pmid=ctx.pmid,
        sentence_index=None,
        parameter_text=param_text,
        parameter_start=None,
        parameter_end=None,
        value_text=cell.text,
        value=value,
        value_low=low,
        value_high=high,
        comparator=cv.comparator,
        deviation=deviation,
        deviation_type=dev_type,
        measurement_type=MEASUREMENT_TYPE.get(spec.statistic or ""),
        unit_text=unit_text,
        source="table",
        pmcid=ctx.pmcid,
        section=table.section or None,
        table_id=table.table_id,
        table_label=table.label,
        row=row,
        col=col,
        group_label=group or None,
        n=n,
        statistic=spec.statistic,
        evidence=f"{label}: {row_header} | {col_header} | {cell.text}",
    )
    m = normalise(m)
    if m.deviation is not None and m.value is not None and m.value_canonical is not None:
        if dev_type == "CV" or cv.deviation_percent:
            m.deviation_canonical = m.deviation
        elif m.value != 0:
            m.deviation_canonical = m.deviation * (m.value_canonical / m.value)
        else:
            res = parse_unit(unit_text or "")
            m.deviation_canonical = m.deviation * res.factor if res.ok and res.factor else None
    return m


def _row_n_map(table: JatsTable, stubs: Sequence[int], pcol: int) -> dict[int, int]:
    """Rows orientation: a body row "n" / "Number of subjects" gives each column's n."""
    out: dict[int, int] = {}
    for row in table.body:
        if _N_HEADER_RE.match(row[pcol].text or ""):
            for c, cell in enumerate(row):
                if c in stubs:
                    continue
                cv = parse_cell(cell.text)
                if cv is not None and cv.value is not None and cv.value.is_integer():
                    out[c] = int(cv.value)
    return out


def _extract_rows(ctx: _Context, stubs: list[int]) -> list[Measurement]:
    table = ctx.table
    heads = {c: _header_parts(table, c) for c in range(table.width)}
    head_text = {c: _join([h.text for h in heads[c]]) for c in heads}
    unit_col = next((c for c in heads if _UNIT_HEADER_RE.match(head_text[c])), None)
    n_col = next((c for c in heads if _N_HEADER_RE.match(head_text[c])), None)
    scores = {c: sum(match_parameter(r[c].text) is not None for r in table.body) for c in stubs}
    pcol = max(stubs, key=lambda c: (scores[c], -c))
    label_cols = [c for c in stubs if c not in (pcol, unit_col, n_col)]
    raw_head = {c: " ".join(h.text for h in heads[c]) for c in heads}
    candidates = [
        c
        for c in range(table.width)
        if c not in stubs and c not in (unit_col, n_col) and not _NOT_GROUP_RE.search(head_text[c])
    ]
    # "Mean | SD" / "Median | Min | Max": a column that only names a dispersion is no group;
    # an SD/SE/CV column gives the deviation of the value column on its left.
    spread_cols = {c for c in candidates if _dispersion_only(raw_head[c])}
    value_cols = [c for c in candidates if c not in spread_cols]
    deviation_col: dict[int, int] = {}
    bounds: dict[int, dict[str, int]] = {}  # value column -> {"min": col, "max": col}
    for c in sorted(spread_cols):
        left = [v for v in value_cols if v < c]
        kind = statistic_in(raw_head[c]).dispersion
        if left and kind in ("SD", "SE", "CV") and left[-1] not in deviation_col:
            deviation_col[left[-1]] = c
        bound = re.match(r"\s*(min|max)", raw_head[c], re.IGNORECASE)
        if left and bound:
            bounds.setdefault(left[-1], {})[bound.group(1).lower()] = c
    n_by_col = _row_n_map(table, stubs, pcol)
    out: list[Measurement] = []
    row_group = ""
    for r, row in enumerate(table.body):
        if _is_heading_row(row, stubs):
            row_group = row[stubs[0]].text
            continue
        stub = row[pcol]
        match = match_parameter(stub.text)
        if match is None:
            continue
        name, unit = split_name_unit(stub.text)
        if unit is None and unit_col is not None and row[unit_col].text:
            unit = row[unit_col].text
        extra = [row[c].text for c in label_cols]
        row_header = _join([*extra, stub.text])
        row_spec = _spec_of_cells(ctx, [stub, *(row[c] for c in label_cols)]).merged(
            statistic_in(stub.text)
        )
        for c in value_cols:
            cell = row[c]
            if cell.origin != (r, c):
                continue  # a copy under a span: read once, at its origin
            cv = parse_cell(cell.text)
            if cv is None or cv.empty:
                continue
            column_spec = statistic_in(raw_head[c])
            if c in deviation_col:
                d = deviation_col[c]
                dv = parse_cell(row[d].text)
                if cv.deviation is None and dv is not None and dv.value is not None:
                    cv = dataclasses.replace(cv, deviation=dv.value)
                column_spec = column_spec.merged(statistic_in(raw_head[d]))
            if set(bounds.get(c, {})) == {"min", "max"}:
                lo = parse_cell(row[bounds[c]["min"]].text)
                hi = parse_cell(row[bounds[c]["max"]].text)
                if (
                    lo is not None
                    and hi is not None
                    and lo.value is not None
                    and hi.value is not None
                ):
                    cv = dataclasses.replace(cv, low=lo.value, high=hi.value)
                    column_spec = column_spec.merged(StatSpec(None, "range"))
            spec = (
                _spec_of_cells(ctx, [cell])
                .merged(row_spec)
                .merged(column_spec)
                .merged(_spec_of_cells(ctx, heads[c]))
                .merged(statistic_in(" ".join(h.text for h in heads[c])))
                .merged(ctx.caption_spec)
                .merged(ctx.general_spec)
            )
            group = _join([head_text[c], *extra, row_group])
            n = _n_in(head_text[c]) or n_by_col.get(c) or _n_in(" ".join(extra)) or _n_in(row_group)
            if n is None and n_col is not None:
                n = _n_in(f"n={row[n_col].text}")
            if n is None:
                n = ctx.caption_n
            out.append(
                _measurement(
                    ctx,
                    param_text=name,
                    unit_text=unit,
                    row=r,
                    col=c,
                    cell=cell,
                    cv=cv,
                    spec=spec,
                    group=group,
                    n=n,
                    row_header=row_header,
                    col_header=" / ".join(h.text for h in heads[c]),
                )
            )
    return out


def _column_parameter(parts: Sequence[Cell]) -> tuple[int, ParameterMatch] | None:
    for i in range(len(parts) - 1, -1, -1):
        match = match_parameter(parts[i].text)
        if match is not None:
            return i, match
    return None


def _extract_columns(ctx: _Context, stubs: list[int]) -> list[Measurement]:
    table = ctx.table
    heads = {c: _header_parts(table, c) for c in range(table.width)}
    head_text = {c: _join([h.text for h in heads[c]]) for c in heads}
    n_col = next((c for c in heads if _N_HEADER_RE.match(head_text[c])), None)
    params: dict[int, tuple[str, str | None, str, Cell]] = {}
    for c in range(table.width):
        if c in stubs or c == n_col:
            continue
        found = _column_parameter(heads[c])
        if found is None:
            continue
        i, _match = found
        cell = heads[c][i]
        name, unit = split_name_unit(cell.text)
        if unit is None:  # a unit on its own header row under the name: "(ng/mL)"
            for other in heads[c][i + 1 :]:
                inner = other.text.strip("()[] ")
                if _is_unit(inner):
                    unit = inner
                    break
        others = [
            h.text
            for j, h in enumerate(heads[c])
            if j != i and h.text.strip("()[] ") != (unit or "")
        ]
        params[c] = (name, unit, _join(others), cell)
    out: list[Measurement] = []
    row_group = ""
    for r, row in enumerate(table.body):
        if _is_heading_row(row, stubs):
            row_group = row[stubs[0]].text
            continue
        label_cells = [row[c] for c in stubs if c != n_col]
        row_label = _join([x.text for x in label_cells])
        if _NOT_GROUP_RE.search(row_label):
            continue
        row_spec = _spec_of_cells(ctx, label_cells)
        for c, (name, unit, col_extra, _head_cell) in params.items():
            cell = row[c]
            if cell.origin != (r, c):
                continue
            cv = parse_cell(cell.text)
            if cv is None or cv.empty:
                continue
            spec = (
                _spec_of_cells(ctx, [cell])
                .merged(_spec_of_cells(ctx, heads[c]))
                .merged(row_spec)
                .merged(statistic_in(" ".join(h.text for h in heads[c])))
                .merged(ctx.caption_spec)
                .merged(ctx.general_spec)
            )
            group = _join([row_label, col_extra, row_group])
            n = _n_in(row_label) or _n_in(col_extra) or _n_in(row_group)
            if n is None and n_col is not None:
                n = _n_in(f"n={row[n_col].text}")
            if n is None:
                n = ctx.caption_n
            out.append(
                _measurement(
                    ctx,
                    param_text=name,
                    unit_text=unit,
                    row=r,
                    col=c,
                    cell=cell,
                    cv=cv,
                    spec=spec,
                    group=group,
                    n=n,
                    row_header=row_label,
                    col_header=" / ".join(h.text for h in heads[c]),
                )
            )
    return out


def orientation(table: JatsTable) -> str:
    """ "rows" when parameters are down the stub, "columns" when they head the columns."""
    stubs = _stub_columns(table)
    in_rows = max(
        (sum(match_parameter(r[c].text) is not None for r in table.body) for c in stubs),
        default=0,
    )
    in_cols = sum(
        _column_parameter(_header_parts(table, c)) is not None
        for c in range(table.width)
        if c not in stubs
    )
    return "rows" if in_rows >= in_cols else "columns"


def extract_table(table: JatsTable, pmid: str, pmcid: str | None = None) -> TableResult:
    """Classify ``table`` and, for a pk table, read one measurement per value cell."""
    kind = classify(table)
    stored = ArticleTable(
        pmid=pmid,
        table_id=table.table_id,
        label=table.label,
        caption=table.caption,
        kind=kind,
        header_rows=len(table.header),
        grid=table.grid_text(),
        footnotes=table.footnote_texts(),
    )
    if kind != "pk":
        return TableResult(stored, ())
    general = StatSpec()
    for note in table.general_notes():
        general = general.merged(statistic_in(note))
    ctx = _Context(
        table=table,
        pmid=pmid,
        pmcid=pmcid,
        caption_spec=statistic_in(table.caption),
        general_spec=general,
        caption_n=_caption_n(table.caption),
    )
    stubs = _stub_columns(table)
    if orientation(table) == "rows":
        found = _extract_rows(ctx, stubs)
    else:
        found = _extract_columns(ctx, stubs)
    return TableResult(stored, tuple(found))


def extract_tables(
    tables: Sequence[JatsTable], pmid: str, pmcid: str | None = None
) -> list[TableResult]:
    return [extract_table(t, pmid, pmcid) for t in tables]
