"""Reviewed sentences as corpus lines: the Prodigy-style JSONL of the annotated corpus (text,
tokens, spans, relations, meta), read back by :func:`pkharvest.corpus.reader.read_corpus`.

Spans of a sentence: the reviewer's latest span fix when there is one, used as set; otherwise
the tagged mentions less the value spans of rejected measurements (a value another kept
measurement of the sentence links stays). Spans are snapped outwards to whole corpus tokens; a
span overlapping an earlier one is left out. Relations are derived from the spans by the
linker (:func:`pkharvest.link.relations`), as for tagged sentences.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pkharvest.corpus.reader import tokenize
from pkharvest.corpus.records import ENTITY_LABELS
from pkharvest.errors import UsageError
from pkharvest.link import relations
from pkharvest.records import Entity
from pkharvest.store.review import ReviewedSentence

logger = logging.getLogger(__name__)


def sentence_spans(s: ReviewedSentence) -> list[tuple[int, int, str]]:
    """The entity spans a reviewed sentence is exported with (before token snapping)."""
    if s.spans is not None:
        return [(x.start, x.end, x.label) for x in s.spans]
    kept_values = {(m.value_start, m.value_end) for m in s.kept}
    dropped = {(m.value_start, m.value_end) for m in s.rejected} - kept_values
    return [(e.start, e.end, e.label) for e in s.mentions
            if e.label in ENTITY_LABELS and (e.start, e.end) not in dropped]


def corpus_line(s: ReviewedSentence) -> dict[str, Any]:
    """One corpus line (a JSON object) for a reviewed sentence."""
    text = s.text
    tokens = tokenize(text)
    starts = {t.start: t.id for t in tokens}
    ends = {t.end: t.id for t in tokens}
    spans: list[dict[str, Any]] = []
    last_end = -1
    for start, end, label in sorted(sentence_spans(s)):
        inside = [t for t in tokens if t.start < end and t.end > start and not t.text.isspace()]
        if not inside:
            continue
        a, b = inside[0].start, inside[-1].end
        if a < last_end:
            logger.warning("PMID %s sentence %d: span %r overlaps the previous one; left out",
                           s.pmid, s.index, text[a:b])
            continue
        spans.append({"start": a, "end": b, "token_start": starts[a], "token_end": ends[b],
                      "label": label})
        last_end = b
    entities = [Entity(sp["label"], sp["start"], sp["end"], text[sp["start"]:sp["end"]])
                for sp in spans]
    by_offsets = {(sp["start"], sp["end"], sp["label"]): sp for sp in spans}
    rels = []
    for r in relations(text, entities):
        head = by_offsets[(r.head.start, r.head.end, r.head.label)]
        child = by_offsets[(r.child.start, r.child.end, r.child.label)]
        rels.append({
            "head": head["token_end"], "child": child["token_end"], "label": r.label,
            "head_span": {k: head[k] for k in ("start", "end", "label")},
            "child_span": {k: child[k] for k in ("start", "end", "label")},
        })
    return {
        "text": text,
        "tokens": [{"text": t.text, "start": t.start, "end": t.end, "id": t.id, "ws": t.ws}
                   for t in tokens],
        "spans": spans,
        "relations": rels,
        "meta": {"pmid": s.pmid, "sentence": s.index, "section": s.section,
                 "source": "review"},
        "answer": "accept",
    }


def write_lines(lines: Iterable[dict[str, Any]], out: Path) -> int:
    """Write JSON lines to ``out`` through a temporary file (a failure leaves no half file)."""
    tmp = out.with_name(f".{out.name}.tmp")
    n = 0
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}", field="out") from None
    return n


def export_corrections(store: Any, out: str | Path) -> int:
    """Write every reviewed sentence of ``store`` to ``out`` as corpus lines; returns how many."""
    sentences = store.reviewed_sentences()
    n = write_lines((corpus_line(s) for s in sentences), Path(out))
    logger.info("exported %d reviewed sentence(s) to %s", n, out)
    return n
