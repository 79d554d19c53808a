"""Linking tagged entities of one sentence into PK measurements.

Input: a sentence and its entities (``PK``, ``VALUE``, ``UNITS``, ``RANGE``, ``COMPARE``, offsets
relative to the sentence). Output: relations in the labels of the PRED corpus

* ``C_VAL``   PK → VALUE/RANGE (the central value of a parameter),
* ``D_VAL``   deviation VALUE/RANGE → central VALUE/RANGE (head is the SD/SE/CI/range, child the
  central value, as in the annotated corpus),
* ``RELATED`` UNITS or COMPARE → VALUE/RANGE,

and :class:`pkharvest.records.Measurement` records (one per PK/central-value pair).

The relation rules live in :mod:`pkharvest.relations` (the tagger's post-processing uses them
too); this module turns their relations into measurements. The scoring of linked relations
against gold ones is :func:`pkharvest.scoring.score_relations`. Every public function here is
total: bad offsets or junk text give fewer measurements, never an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pkharvest.context import context_flags
from pkharvest.drug import attribute_drug
from pkharvest.records import Entity, Measurement, Sentence
from pkharvest.relations import (
    ENTITY_LABELS,
    RELATION_LABELS,
    LinkedRelation,
    ParsedValue,
    clean_text,
    comparator_prefix,
    deviation_type,
    measurement_type,
    parse_value,
    relations,
)
from pkharvest.scoring import score_relations

logger = logging.getLogger(__name__)

__all__ = [
    "ENTITY_LABELS",
    "RELATION_LABELS",
    "LinkedRelation",
    "ParsedValue",
    "attribute_drug",
    "deviation_type",
    "link",
    "measurement_type",
    "parse_value",
    "relations",
    "score_relations",
]


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------
def link(sentence: Sentence, entities: Iterable[Entity]) -> list[Measurement]:
    """One raw :class:`Measurement` per (PK mention, central value) pair of the sentence. A PK
    mention without a value yields nothing. Never raises."""
    try:
        return _link(sentence, list(entities or ()))
    except Exception:  # total by contract
        logger.warning("link failed for %s/%s", getattr(sentence, "pmid", "?"),
                       getattr(sentence, "index", "?"), exc_info=True)
        return []


def _signed_start(text: str, v: Entity) -> int:
    """Where a value starts when the tagger left its minus sign out ("was -197 ± 96 mmHg/h",
    "(−0.4 to 1.2)"): the offset of a "-" or "−" written right before it, after a space, a
    bracket, "=", ":" or a comma; not after a number ("10-20" is a range) nor after "+" ("+-")."""
    t = clean_text(text)
    i = v.start
    if t[i:i + 1] == "-" or i == 0 or t[i - 1] != "-":
        return i
    if i >= 2 and t[i - 2] not in " (=:[,;~<>":
        return i
    before = t[:i - 1].rstrip()
    if before and (before[-1].isdigit() or before[-1] in "%)]+±"):
        return i
    return i - 1


def _link(sentence: Sentence, entities: list[Entity]) -> list[Measurement]:
    text = sentence.text if isinstance(sentence.text, str) else ""
    rels = relations(text, entities)
    dev_of: dict[tuple[int, int], Entity] = {}
    unit_of: dict[tuple[int, int], Entity] = {}
    cmp_of: dict[tuple[int, int], Entity] = {}
    for r in rels:
        if r.label == "D_VAL":
            dev_of.setdefault((r.child.start, r.child.end), r.head)
        elif r.label == "RELATED" and r.head.label.upper() == "UNITS":
            unit_of[(r.child.start, r.child.end)] = r.head
        elif r.label == "RELATED":
            cmp_of[(r.child.start, r.child.end)] = r.head
    out: list[Measurement] = []
    for r in sorted((r for r in rels if r.label == "C_VAL"),
                    key=lambda r: (r.child.start, r.head.start)):
        pk, v = r.head, r.child
        key = (v.start, v.end)
        value_start = _signed_start(text, v)
        value_text = text[value_start:v.end]
        parsed = parse_value(value_text)
        dev = dev_of.get(key)
        unit = unit_of.get(key)
        comp = cmp_of.get(key)
        dev_parsed = parse_value(text[dev.start:dev.end]) if dev else None
        dev_unit = unit_of.get((dev.start, dev.end)) if dev else None
        comparator = None
        if comp is not None:
            cp = comparator_prefix(clean_text(text[comp.start:comp.end]))[0]
            comparator = cp or text[comp.start:comp.end].strip()
        elif parsed is not None:
            comparator = parsed.comparator
        mtype = measurement_type(text, v.start, pk.start)
        if mtype is None and v.label.upper() == "RANGE":
            mtype = "range"
        out.append(Measurement(
            pmid=sentence.pmid,
            sentence_index=sentence.index,
            parameter_text=text[pk.start:pk.end],
            parameter_start=pk.start,
            parameter_end=pk.end,
            value_text=value_text,
            value_start=value_start,
            value_end=v.end,
            value=parsed.value if parsed else None,
            value_low=parsed.low if parsed else None,
            value_high=parsed.high if parsed else None,
            comparator=comparator,
            deviation_text=text[dev.start:dev.end] if dev else None,
            deviation=dev_parsed.value if dev_parsed else None,
            deviation_type=deviation_type(
                text, v, dev,
                text[dev_unit.start:dev_unit.end] if dev_unit else None,
                text[unit.start:unit.end] if unit else None,
            ) if dev else None,
            measurement_type=mtype,
            unit_text=text[unit.start:unit.end] if unit else None,
            flags=context_flags(text, value_start, v.end),
        ))
    out.sort(key=lambda m: (m.parameter_start, m.value_start or 0))
    return out
