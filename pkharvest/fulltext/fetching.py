"""Full text for one EFetch batch of PubMed articles: the JATS of those with a PMC id, by PMC id.
A malformed article is one log line naming its PMC id (and PMID) and is left out, so nothing of
it is stored and its full-text status stays unset."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pkharvest.fulltext.jats import FullText, normalise_pmcid
from pkharvest.records import Article

logger = logging.getLogger(__name__)


def pmcid_of(article: Article) -> str | None:
    """The article's PMC id as "PMC123", or None (none, or not readable)."""
    if not article.pmcid:
        return None
    try:
        return normalise_pmcid(article.pmcid)
    except ValueError:
        logger.warning(
            "PMID %s: PMC id %r is not readable; full text left out", article.pmid, article.pmcid
        )
        return None


def fetch_batch_fulltext(
    client: object, articles: Sequence[Article]
) -> tuple[dict[str, FullText], set[str]]:
    """(full text by PMC id, PMC ids whose JATS was malformed) for ``articles``; ``client`` is
    an :class:`~pkharvest.fetch.client.EutilsClient` (FetchError when PMC cannot be reached)."""
    wanted = {pmcid_of(a): a.pmid for a in articles}
    wanted.pop(None, None)
    found: dict[str, FullText] = {}
    malformed: set[str] = set()
    if not wanted:
        return found, malformed
    for parsed in client.fetch_fulltext(sorted(wanted)):  # type: ignore[attr-defined]
        for ft in parsed.articles:
            found[ft.pmcid] = ft
        for pmcid, message in parsed.errors:
            malformed.add(pmcid)
            text = message if message.startswith(pmcid) else f"{pmcid}: {message}"
            logger.warning(
                "malformed JATS, full text left out (PMID %s): %s",
                wanted.get(pmcid, "?"),
                " ".join(text.split()),
            )
    return found, malformed
