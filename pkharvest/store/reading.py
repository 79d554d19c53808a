"""Reading the store: the views (``evidence``, ``parameter_summary``,
``parameter_summary_all``), stored records and the whole of one article for ``pkharvest show``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pkharvest.flags import left_out_sql
from pkharvest.records import AbstractSection, Article, ArticleTable, Entity, Measurement
from pkharvest.store.connection import StoreConnection, cols
from pkharvest.store.schema import MEASUREMENT_COLS, TABLE_COLS

PUBMED_URL = "https://pubmed.ncbi.nlm.nih.gov/"


def pubmed_url(pmid: str) -> str:
    return f"{PUBMED_URL}{pmid}/"


# Views are (re)created on every writable open, so changing one needs no migration.
# evidence: a table measurement has no sentence; its ``sentence`` is its evidence text (table
# label, row and column headers, cell) and its ``section`` the measurement's own.
# Only point estimates enter the summary: inequalities ("< 0.5") are not estimates.
# parameter_summary leaves out the values whose flags leave them out by default
# (pkharvest.flags); parameter_summary_all keeps every value.
_INEQUALITIES = "('<', '>', '<=', '>=', '≤', '≥', '=<', '=>')"


# The summary is one table macro, so that the views and queries/parameter_summary.sql (which
# filters on study context before aggregating) share a single definition. Arguments: drug,
# parameter key, population, age group, species, route, condition ('' = any) and flagged ('1':
# keep the values whose flags leave them out by default, :mod:`pkharvest.flags`).
SUMMARY_MACRO = f"""
CREATE OR REPLACE MACRO summarise_parameters(
    p_drug, p_parameter, p_population, p_age_group, p_species, p_route, p_condition, p_flagged
) AS TABLE
WITH v AS (
    SELECT lower(drug) AS drug, parameter, measurement_type, unit, pmid, flags,
           value_canonical AS x,
           CASE WHEN value_canonical > 0 THEN ln(value_canonical) END AS lx,
           (p_flagged = '1' OR NOT left_out_by_flags) AS kept
    FROM evidence
    WHERE parameter IS NOT NULL
      AND value_canonical IS NOT NULL AND isfinite(value_canonical)
      AND (comparator IS NULL OR comparator NOT IN {_INEQUALITIES})
      AND (p_drug = '' OR lower(drug) = lower(p_drug))
      AND (p_parameter = '' OR parameter = p_parameter)
      AND (p_population = '' OR population = lower(p_population))
      AND (p_age_group = '' OR age_group = lower(p_age_group))
      AND (p_species = '' OR species = lower(p_species))
      AND (p_route = '' OR route = lower(p_route))
      AND (p_condition = '' OR list_contains(conditions, lower(p_condition)))
)
SELECT
    drug, parameter, measurement_type, unit,
    count(DISTINCT pmid) FILTER (WHERE kept) AS n_articles,
    count(*) FILTER (WHERE kept) AS n_values,
    quantile_cont(x, 0.5) FILTER (WHERE kept) AS median,
    quantile_cont(x, 0.25) FILTER (WHERE kept) AS q1,
    quantile_cont(x, 0.75) FILTER (WHERE kept) AS q3,
    count(lx) FILTER (WHERE kept) AS n_positive,
    exp(avg(lx) FILTER (WHERE kept)) AS geo_mean,
    100 * sqrt(exp(var_samp(lx) FILTER (WHERE kept)) - 1) AS geo_cv_pct,
    min(x) FILTER (WHERE kept) AS min,
    max(x) FILTER (WHERE kept) AS max,
    count(*) FILTER (WHERE kept AND len(flags) > 0) AS n_flagged,
    count(*) FILTER (WHERE NOT kept) AS n_left_out
FROM v
GROUP BY drug, parameter, measurement_type, unit
HAVING count(*) FILTER (WHERE kept) > 0;
"""


VIEWS = f"""
CREATE OR REPLACE VIEW evidence AS
SELECT
    m.id AS measurement_id, m.pmid, m.drug, m.parameter, m.measurement_type,
    m.comparator, m.value, m.value_low, m.value_high, m.value_text,
    m.unit_text, m.unit, m.value_canonical, m.value_low_canonical, m.value_high_canonical,
    m.deviation, m.deviation_text, m.deviation_type, m.parameter_text,
    m.sentence_idx, coalesce(m.section, s.section) AS section,
    coalesce(s.text, m.evidence) AS sentence, s.start AS sentence_start,
    s."end" AS sentence_end, m.parameter_start, m.parameter_end, m.value_start, m.value_end,
    '{PUBMED_URL}' || m.pmid || '/' AS pubmed_url,
    m.flags, m.drug_source, m.model_version, m.run_id,
    m.source, m.table_id, m.table_label, m."row", m.col, m.group_label, m.n, m.statistic,
    m.deviation_canonical, m.age_group, m.population, m.conditions, m.species, m.route,
    m.dose_text, m.evidence, {left_out_sql("m.flags")} AS left_out_by_flags
FROM measurements m
LEFT JOIN sentences s ON s.pmid = m.pmid AND s.idx = m.sentence_idx;

{SUMMARY_MACRO}
CREATE OR REPLACE VIEW parameter_summary AS
SELECT * FROM summarise_parameters('', '', '', '', '', '', '', '0');
CREATE OR REPLACE VIEW parameter_summary_all AS
SELECT * FROM summarise_parameters('', '', '', '', '', '', '', '1');
"""


@dataclass(frozen=True)
class StoredSentence:
    """A stored sentence with its mentions and the measurements linked in it."""

    index: int
    section: str
    start: int
    end: int
    text: str
    pk_score: float | None
    kept: bool
    mentions: tuple[Entity, ...] = ()
    measurements: tuple[Measurement, ...] = ()
    source: str = "abstract"


@dataclass(frozen=True)
class ArticleView:
    """Everything the store holds about one article (for ``pkharvest show``)."""

    article: Article
    model_version: str
    run_id: int | None
    sentences: tuple[StoredSentence, ...] = ()
    tables: tuple[ArticleTable, ...] = ()
    table_measurements: tuple[Measurement, ...] = ()  # read from table cells (no sentence)

    @property
    def url(self) -> str:
        return pubmed_url(self.article.pmid)


COUNTED_TABLES = (
    "articles", "sentences", "mentions", "measurements", "searches", "runs", "article_tables",
    "bulk_files",
)  # fmt: skip


class ReadMixin(StoreConnection):
    """Reading of :class:`pkharvest.store.Store`."""

    def processed_pmids(
        self, model_version: str | None = None, *, fulltext_asked: bool = False
    ) -> set[str]:
        """PMIDs stored with ``model_version`` (any version when ``None``); with
        ``fulltext_asked`` only those whose full text was asked for (a full-text status)."""
        where = []
        params: dict[str, str] = {}
        if model_version is not None:
            where.append("model_version = $v")
            params["v"] = model_version
        if fulltext_asked:
            where.append("fulltext_status IS NOT NULL")
        sql = "SELECT pmid FROM articles" + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = self.con.execute(sql, params).fetchall()
        return {str(r[0]) for r in rows}

    def counts(self) -> dict[str, int]:
        """Number of rows per table."""
        out = {}
        for table in COUNTED_TABLES:
            row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
            out[table] = int(row[0]) if row else 0
        return out

    def get_article(self, pmid: str) -> Article | None:
        row = self.con.execute(
            "SELECT pmid, title, sections, journal, year, doi, pmcid, mesh, chemicals,"
            " publication_types, language, fulltext_status FROM articles WHERE pmid = $p",
            {"p": pmid},
        ).fetchone()
        if row is None:
            return None
        return Article(
            pmid=row[0],
            title=row[1],
            sections=tuple(AbstractSection(s["text"], s["label"]) for s in row[2] or []),
            journal=row[3],
            year=row[4],
            doi=row[5],
            pmcid=row[6],
            mesh=tuple(row[7] or ()),
            chemicals=tuple(row[8] or ()),
            publication_types=tuple(row[9] or ()),
            language=row[10],
            fulltext_status=row[11],
        )

    def measurements(self, pmid: str | None = None) -> list[Measurement]:
        """Stored measurements (of one article, or all) as records, in text order."""
        names = [c for c in MEASUREMENT_COLS if c != "id"]
        sql = f"SELECT {cols(names)} FROM measurements"
        args: dict[str, Any] = {}
        if pmid is not None:
            sql += " WHERE pmid = $p"
            args["p"] = pmid
        sql += (
            " ORDER BY pmid, sentence_idx, parameter_start, value_start NULLS FIRST, table_id,"
            ' "row", col'
        )
        out = []
        for row in self.con.execute(sql, args).fetchall():
            d = dict(zip(names, row, strict=True))
            d["sentence_index"] = d.pop("sentence_idx")
            d["flags"] = list(d["flags"] or [])
            if d["conditions"] is not None:
                d["conditions"] = list(d["conditions"])
            out.append(Measurement(**d))
        return out

    def article_view(self, pmid: str) -> ArticleView | None:
        """The article with its sentences, mentions and measurements; ``None`` if unknown."""
        article = self.get_article(pmid)
        if article is None:
            return None
        head = self.con.execute(
            "SELECT model_version, run_id FROM articles WHERE pmid = $p", {"p": pmid}
        ).fetchone()
        assert head is not None
        ments: dict[int, list[Entity]] = {}
        for idx, label, start, end, text, score in self.con.execute(
            'SELECT sentence_idx, label, start, "end", text, score FROM mentions'
            ' WHERE pmid = $p ORDER BY sentence_idx, start, "end"',
            {"p": pmid},
        ).fetchall():
            ments.setdefault(idx, []).append(Entity(label, start, end, text, score))
        meas: dict[int | None, list[Measurement]] = {}
        for m in self.measurements(pmid):
            meas.setdefault(None if m.source == "table" else m.sentence_index, []).append(m)
        sentences = tuple(
            StoredSentence(
                index=r[0],
                section=r[1],
                start=r[2],
                end=r[3],
                text=r[4],
                pk_score=r[5],
                kept=r[6],
                mentions=tuple(ments.get(r[0], ())),
                measurements=tuple(meas.get(r[0], ())),
                source=r[7],
            )
            for r in self.con.execute(
                'SELECT idx, section, start, "end", text, pk_score, kept, source FROM sentences'
                " WHERE pmid = $p ORDER BY idx",
                {"p": pmid},
            ).fetchall()
        )
        return ArticleView(
            article,
            head[0],
            head[1],
            sentences,
            tables=tuple(self.tables(pmid)),
            table_measurements=tuple(meas.get(None, ())),
        )

    def tables(self, pmid: str) -> list[ArticleTable]:
        """The stored tables of one article, by table id."""
        return [
            ArticleTable(
                pmid=r[0],
                table_id=r[1],
                label=r[2],
                caption=r[3],
                kind=r[4],
                header_rows=r[5],
                grid=tuple(tuple(row) for row in r[6] or ()),
                footnotes=tuple(r[7] or ()),
            )
            for r in self.con.execute(
                f"SELECT {cols(TABLE_COLS)} FROM article_tables WHERE pmid = $p ORDER BY table_id",
                {"p": pmid},
            ).fetchall()
        ]
