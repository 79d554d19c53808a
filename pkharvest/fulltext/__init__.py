"""Full text from PubMed Central: JATS parsing (:mod:`~pkharvest.fulltext.jats`)."""

from pkharvest.fulltext.jats import (
    BodySection,
    FullText,
    JatsError,
    JatsTable,
    ParsedSet,
    normalise_pmcid,
    parse_pmc_xml,
)

__all__ = [
    "BodySection",
    "FullText",
    "JatsError",
    "JatsTable",
    "ParsedSet",
    "normalise_pmcid",
    "parse_pmc_xml",
]
