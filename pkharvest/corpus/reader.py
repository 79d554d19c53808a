"""Read Prodigy-style JSONL corpora (as published with PRED and PKNER) into :class:`Example`.

Each line is one sentence: ``text``, ``tokens``, ``spans``, ``relations``, ``metadata`` (and/or
``meta``), ``answer``. Every line is validated; a malformed line becomes a :class:`CorpusError`
naming the file, the line number and what is wrong.

Bad lines: ``errors="strict"`` (the default) raises on the first bad line; ``errors="skip"``
logs a warning per bad line, leaves it out and reports it in :attr:`ReadReport.skipped`. Lines
whose ``answer`` is ``"reject"`` or ``"ignore"`` are not annotations and are always left out
(counted in :attr:`ReadReport.rejected`); blank lines are ignored.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pkharvest.corpus.records import (
    ENTITY_LABELS,
    RELATION_LABELS,
    VIEWS,
    Example,
    Relation,
    Span,
    Token,
)
from pkharvest.errors import CorpusError, UsageError
from pkharvest.paths import ENV_CORPUS, default_corpus_path

logger = logging.getLogger(__name__)

ErrorMode = Literal["strict", "skip"]
SKIPPED_ANSWERS: frozenset[str] = frozenset({"reject", "ignore"})
FETCH_HINT = (
    f"get it with `pkharvest corpus fetch pred` (or `pkner`), or point {ENV_CORPUS} at a "
    "Prodigy JSONL file"
)

# Prodigy's default tokenizer is spaCy's English one; the published corpora were tokenised with
# a finer rule that splits runs of ASCII letters, runs of digits and every other non-space
# character ("µg/mL" -> "µ", "g", "/", "mL"; "0.5" -> "0", ".", "5"), keeps "'s" whole and, like
# spaCy, turns whitespace beyond one space into a token of its own. This regex reproduces the
# tokens of 400 of the 401 shared sentences (the other one has hand-edited tokens); no
# library tokenizer reproduces it, hence the hand-written rule. Only used for lines without
# ``tokens``.
_TOKEN_RE = re.compile(r"'s(?![A-Za-z])|[A-Za-z]+|[0-9]+|\S|\s+")


def tokenize(text: str) -> list[Token]:
    """Tokenise ``text`` like the published corpora (see ``_TOKEN_RE``); offsets into ``text``."""
    tokens: list[Token] = []
    for m in _TOKEN_RE.finditer(text):
        start, end, piece = m.start(), m.end(), m.group()
        if piece.isspace():
            if tokens and piece[0] == " ":
                # the first space belongs to the previous token (ws=True), like spaCy
                prev = tokens[-1]
                tokens[-1] = replace(prev, ws=True)
                start += 1
                if start == end:
                    continue
            tokens.append(Token(text=text[start:end], start=start, end=end, id=len(tokens),
                                ws=False))
            continue
        tokens.append(Token(text=piece, start=start, end=end, id=len(tokens), ws=False))
    return tokens


@dataclass
class ReadReport:
    """What :func:`read_corpus_report` read: the examples and the lines it left out."""

    path: Path
    examples: list[Example] = field(default_factory=list)
    skipped: list[CorpusError] = field(default_factory=list)  # malformed lines (errors="skip")
    rejected: int = 0  # lines with answer reject/ignore


@dataclass(frozen=True)
class CorpusStats:
    """Counts of a list of examples (for ``pkharvest corpus stats`` and sanity checks)."""

    sentences: int
    positives: int  # sentences with at least one span
    articles: int
    label_counts: dict[str, int]
    relation_counts: dict[str, int]

    @property
    def negatives(self) -> int:
        return self.sentences - self.positives

    @property
    def spans(self) -> int:
        return sum(self.label_counts.values())


class _LineError(Exception):
    """Internal: what is wrong with one line (the caller adds file and line)."""


def resolve_corpus_path(path: str | Path | None) -> Path:
    """``path``, or the default corpus (:func:`pkharvest.paths.default_corpus_path`); raises a
    :class:`CorpusError` saying what is missing and how to get it."""
    if path is None:
        found = default_corpus_path()
        if found is None:
            raise CorpusError(f"no corpus given and none found; {FETCH_HINT}")
        path = found
    p = Path(path)
    if not p.exists():
        raise CorpusError(f"corpus file not found; {FETCH_HINT}", path=str(p))
    if p.is_dir():
        inside = sorted(x.name for x in p.glob("*.jsonl"))
        listing = f" (it holds {', '.join(inside)})" if inside else ""
        raise CorpusError(f"is a folder, expected one JSONL file{listing}", path=str(p))
    return p


def read_corpus(
    path: str | Path | None = None,
    *,
    errors: ErrorMode = "strict",
    labels: Sequence[str] = ENTITY_LABELS,
) -> list[Example]:
    """Read a Prodigy JSONL corpus. ``path=None`` reads the default corpus.

    ``errors="strict"`` raises :class:`CorpusError` (file:line: what) on the first malformed
    line; ``errors="skip"`` logs a warning per malformed line and leaves it out (use
    :func:`read_corpus_report` to get them). ``labels`` are the span labels accepted."""
    return read_corpus_report(path, errors=errors, labels=labels).examples


def read_corpora(
    paths: Sequence[str | Path] | None = None,
    *,
    errors: ErrorMode = "strict",
    labels: Sequence[str] = ENTITY_LABELS,
) -> list[Example]:
    """Read several corpora (e.g. the shared corpus and ``pkharvest review export`` lines) as
    one list, in the order given; no paths reads the default corpus. A sentence of a later
    corpus replaces the same sentence (same article and text) of an earlier one, so that
    corrections override the annotation they correct."""
    if not paths:
        return read_corpus(None, errors=errors, labels=labels)
    seen: dict[tuple[str, str], int] = {}
    out: list[Example | None] = []
    for path in paths:
        for ex in read_corpus(path, errors=errors, labels=labels):
            key = (ex.article_id, ex.text)
            if key in seen:
                logger.info("%s replaces %s", ex.source, out[seen[key]].source)  # type: ignore[union-attr]
                out[seen[key]] = None
            seen[key] = len(out)
            out.append(ex)
    return [ex for ex in out if ex is not None]


def read_corpus_report(
    path: str | Path | None = None,
    *,
    errors: ErrorMode = "strict",
    labels: Sequence[str] = ENTITY_LABELS,
) -> ReadReport:
    """Like :func:`read_corpus` but also returns the skipped and rejected lines."""
    if errors not in ("strict", "skip"):
        raise UsageError(f"must be 'strict' or 'skip', not {errors!r}", field="errors")
    p = resolve_corpus_path(path)
    report = ReadReport(path=p)
    allowed = frozenset(labels)
    try:
        fh = p.open("rb")  # decoded line by line, so that bad bytes are reported with a line
    except OSError as exc:
        raise CorpusError(f"cannot be read: {exc.strerror or exc}", path=str(p)) from None
    with fh:
        for lineno, raw_bytes in enumerate(fh, start=1):
            try:
                raw = raw_bytes.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                err = CorpusError(f"not UTF-8 text ({exc.reason})", path=str(p), line=lineno)
                if errors == "strict":
                    raise err from None
                logger.warning("skipping malformed line: %s", err)
                report.skipped.append(err)
                continue
            if not raw.strip():
                continue
            try:
                ex = _parse_line(raw, allowed, source=f"{p}:{lineno}")
            except _LineError as exc:
                err = CorpusError(str(exc), path=str(p), line=lineno)
                if errors == "strict":
                    raise err from None
                logger.warning("skipping malformed line: %s", err)
                report.skipped.append(err)
                continue
            if ex is None:
                report.rejected += 1
                continue
            report.examples.append(ex)
    logger.info("read %d examples from %s (%d skipped, %d rejected)", len(report.examples), p,
                len(report.skipped), report.rejected)
    return report


def _parse_line(raw: str, allowed: frozenset[str], source: str) -> Example | None:
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _LineError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(obj, dict):
        raise _LineError(f"expected a JSON object, got {type(obj).__name__}")
    answer = obj.get("answer")
    if isinstance(answer, str) and answer in SKIPPED_ANSWERS:
        return None
    text = obj.get("text")
    if not isinstance(text, str):
        raise _LineError("missing 'text'" if text is None else "'text' is not a string")
    if not text.strip():
        raise _LineError("'text' is empty")

    tokens = _parse_tokens(obj.get("tokens"), text)
    # Token indices in spans refer to the line's own tokens; when we tokenised it ourselves
    # they may refer to another tokenisation, so they are recomputed from the offsets.
    spans = _parse_spans(obj.get("spans"), text, tokens, allowed,
                         check_token_ids=obj.get("tokens") is not None)
    relations = _parse_relations(obj.get("relations"), spans, tokens)

    meta: dict[str, Any] = {}
    for key in ("meta", "metadata"):  # "metadata" wins over Prodigy's display "meta"
        value = obj.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise _LineError(f"'{key}' is not an object")
        meta.update(value)
    pmid = _id(meta, "pmid", "PMID")
    pmc = _id(meta, "pmc", "pmcid", "PMCID")
    if pmc and pmc.upper().startswith("PMC"):
        pmc = pmc[3:]
    sentence_id = _id(meta, "SID", "sentence_id", "sid") or _id(obj, "sentence_hash",
                                                                  "_input_hash")
    return Example(
        text=text,
        tokens=tokens,
        spans=spans,
        relations=relations,
        pmid=pmid,
        pmc=pmc,
        sentence_id=sentence_id,
        source=source,
        metadata=meta,
    )


def _id(d: dict[str, Any], *keys: str) -> str | None:
    for k in keys:
        v = d.get(k)
        if v is not None and v != "" and not isinstance(v, bool):
            return str(v)
    return None


def _int(d: dict[str, Any], key: str, what: str) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int):
        raise _LineError(f"{what} has no integer '{key}'")
    return v


def _parse_tokens(raw: Any, text: str) -> list[Token]:
    if raw is None:
        return tokenize(text)
    if not isinstance(raw, list):
        raise _LineError("'tokens' is not a list")
    tokens: list[Token] = []
    prev_end = 0
    for i, t in enumerate(raw):
        if not isinstance(t, dict):
            raise _LineError(f"token {i} is not an object")
        start, end = _int(t, "start", f"token {i}"), _int(t, "end", f"token {i}")
        if not 0 <= start < end <= len(text):
            raise _LineError(f"token {i} offsets [{start}, {end}) outside the text "
                             f"(length {len(text)})")
        if start < prev_end:
            raise _LineError(f"token {i} [{start}, {end}) overlaps the previous token")
        tid = t.get("id", i)
        if tid != i:
            raise _LineError(f"token {i} has id {tid!r}, expected {i}")
        tok_text = t.get("text", text[start:end])
        if tok_text != text[start:end]:
            raise _LineError(f"token {i} text {tok_text!r} differs from the text at "
                             f"[{start}, {end}) ({text[start:end]!r})")
        tokens.append(Token(text=text[start:end], start=start, end=end, id=i,
                            ws=bool(t.get("ws", True))))
        prev_end = end
    if not tokens:
        raise _LineError("'tokens' is empty")
    return tokens


def _parse_spans(raw: Any, text: str, tokens: list[Token], allowed: frozenset[str],
                 check_token_ids: bool = True) -> list[Span]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _LineError("'spans' is not a list")
    by_start = {t.start: t.id for t in tokens}
    by_end = {t.end: t.id for t in tokens}
    spans: list[Span] = []
    seen: set[Span] = set()
    for i, s in enumerate(raw):
        if not isinstance(s, dict):
            raise _LineError(f"span {i} is not an object")
        label = s.get("label")
        if not isinstance(label, str):
            raise _LineError(f"span {i} has no 'label'")
        if label not in allowed:
            raise _LineError(f"span {i} has unknown label {label!r} (expected one of "
                             f"{', '.join(sorted(allowed))})")
        start, end = _int(s, "start", f"span {i}"), _int(s, "end", f"span {i}")
        if not 0 <= start < end <= len(text):
            raise _LineError(f"span {i} ({label}) offsets [{start}, {end}) outside the text "
                             f"(length {len(text)})")
        if start not in by_start or end not in by_end:
            raise _LineError(f"span {i} ({label}) [{start}, {end}) {text[start:end]!r} is not "
                             "on token boundaries")
        ts, te = by_start[start], by_end[end]
        for key, expected in (("token_start", ts), ("token_end", te)):
            given = s.get(key, expected) if check_token_ids else expected
            if given != expected:
                raise _LineError(f"span {i} ({label}) {key} is {given!r} but the offsets give "
                                 f"token {expected}")
        span = Span(start=start, end=end, token_start=ts, token_end=te, label=label)
        if span in seen:
            logger.debug("dropping duplicate span %s", span)
            continue
        seen.add(span)
        spans.append(span)
    spans.sort(key=lambda sp: (sp.start, sp.end))
    for a, b in itertools.pairwise(spans):
        if b.start < a.end:
            raise _LineError(f"spans overlap: {a.label} [{a.start}, {a.end}) and {b.label} "
                             f"[{b.start}, {b.end})")
    return spans


def _find_span(rel: dict[str, Any], end: str, spans: list[Span], i: int) -> Span:
    """The span a relation end points to: by ``head_span``/``child_span`` when given, else by
    the token index ``head``/``child`` (Prodigy uses the span's last token)."""
    given = rel.get(f"{end}_span")
    if given is not None:
        if not isinstance(given, dict):
            raise _LineError(f"relation {i} '{end}_span' is not an object")
        for sp in spans:
            if (sp.start, sp.end) == (given.get("start"), given.get("end")) and (
                given.get("label") in (None, sp.label)
            ):
                return sp
        raise _LineError(f"relation {i} {end} points to a missing span "
                         f"[{given.get('start')}, {given.get('end')}) {given.get('label')}")
    tok = rel.get(end)
    if isinstance(tok, int) and not isinstance(tok, bool):
        for sp in spans:
            if sp.token_start <= tok <= sp.token_end:
                return sp
        raise _LineError(f"relation {i} {end} token {tok} is in no span")
    raise _LineError(f"relation {i} has no '{end}' or '{end}_span'")


def _parse_relations(raw: Any, spans: list[Span], tokens: list[Token]) -> list[Relation]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _LineError("'relations' is not a list")
    out: list[Relation] = []
    for i, r in enumerate(raw):
        if not isinstance(r, dict):
            raise _LineError(f"relation {i} is not an object")
        label = r.get("label")
        if label not in RELATION_LABELS:
            raise _LineError(f"relation {i} has unknown label {label!r} (expected one of "
                             f"{', '.join(RELATION_LABELS)})")
        head = _find_span(r, "head", spans, i)
        child = _find_span(r, "child", spans, i)
        rel = Relation(head=head, child=child, label=label)
        if rel not in out:
            out.append(rel)
    return out


def apply_view(examples: Iterable[Example], view: str) -> list[Example]:
    """Keep only the span labels of ``view`` (``"pk"``: PK; ``"full"``: all five); relations
    that lose an end are dropped. Returns new examples; the input is not changed."""
    if view not in VIEWS:
        raise UsageError(f"unknown view {view!r} (expected one of {', '.join(VIEWS)})",
                         field="view")
    keep = frozenset(VIEWS[view])
    out: list[Example] = []
    for ex in examples:
        spans = [s for s in ex.spans if s.label in keep]
        rels = [r for r in ex.relations if r.head.label in keep and r.child.label in keep]
        out.append(replace(ex, spans=spans, relations=rels, metadata=dict(ex.metadata)))
    return out


def corpus_stats(examples: Sequence[Example]) -> CorpusStats:
    """Sentence, article, per-label span and per-label relation counts."""
    labels: Counter[str] = Counter()
    rels: Counter[str] = Counter()
    for ex in examples:
        labels.update(s.label for s in ex.spans)
        rels.update(r.label for r in ex.relations)
    return CorpusStats(
        sentences=len(examples),
        positives=sum(1 for ex in examples if ex.spans),
        articles=len({ex.article_id for ex in examples}),
        label_counts={lab: labels[lab] for lab in (*ENTITY_LABELS, *sorted(set(labels) -
                                                                            set(ENTITY_LABELS)))
                      if labels[lab] or lab in ENTITY_LABELS},
        relation_counts={lab: rels[lab] for lab in RELATION_LABELS},
    )
