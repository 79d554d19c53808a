"""The whole search over the loopback E-utilities stand-in with a trained model.

Articles are built at test time from the *test split* of the shared corpus (sentences of
articles the model never saw, grouped by PMID), served over real HTTP, searched, tagged, linked,
normalised and stored in a real DuckDB file; stored measurements are scored against the gold
C_VAL relations as records (pmid, parameter, value).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from pkharvest.fetch import EutilsClient, RateLimiter, RetryPolicy
from pkharvest.pipeline import Extractor, load_tagger, run_search
from pkharvest.scoring import gold_records, measurement_records, score_records
from pkharvest.store import Store
from pkharvest.testing.eutils_server import EutilsServer, make_article

pytestmark = pytest.mark.slow

# A regression floor, below what was measured on the test split (record F1 0.672 with the
# fixture's 10-epoch model, 0.707 with the default model; see docs/results.md). Tuning
# happened on the dev split only.
RECORD_F1_FLOOR = 0.55
QUERY = "pharmacokinetic report"


def _articles(examples) -> list:
    by_pmid: dict[str, list[str]] = defaultdict(list)
    for ex in examples:
        by_pmid[str(ex.pmid)].append(ex.text)
    return [
        make_article(pmid, title="Pharmacokinetic report.", sentences=texts)
        for pmid, texts in sorted(by_pmid.items())
    ]


def _client(server: EutilsServer) -> EutilsClient:
    return EutilsClient(
        base_url=server.url,
        retry=RetryPolicy(max_attempts=10, initial_wait=0.01, max_wait=0.05, jitter=0.01),
        rate_limiter=RateLimiter(1000.0),
        timeout=10.0,
    )


def test_search_end_to_end_record_f1(trained_model, tmp_path: Path) -> None:
    model_dir, split = trained_model
    extractor = Extractor(load_tagger(model_dir))
    arts = _articles(split.test)
    db = tmp_path / "e2e.duckdb"
    with EutilsServer(arts) as server, Store(db) as store:
        summary = run_search(QUERY, store, _client(server), extractor, max_results=1000)
    assert summary.articles_fetched == len(arts)
    with Store(db, read_only=True) as store:
        stored = store.measurements()
    gold = gold_records(split.test)
    score = score_records(measurement_records(stored), gold)
    print("record score:", json.dumps(score.as_dict()))
    assert len(gold) > 20
    assert score.f1 >= RECORD_F1_FLOOR, score


def test_faults_do_not_change_the_stored_result(trained_model, tmp_path: Path) -> None:
    model_dir, split = trained_model
    extractor = Extractor(load_tagger(model_dir))
    arts = _articles(split.test)
    results = []
    for rate in (0.0, 0.3):
        db = tmp_path / f"faults{rate}.duckdb"
        with EutilsServer(arts) as server, Store(db) as store:
            server.random_faults(rate, seed=3)
            run_search(QUERY, store, _client(server), extractor, max_results=1000, fetch_batch=5)
            if rate:
                assert any(r.fault for r in server.requests)
        with Store(db, read_only=True) as store:
            results.append(
                sorted(
                    (
                        m.pmid,
                        m.sentence_index,
                        m.parameter_start,
                        m.value_text,
                        m.unit,
                        m.value_canonical,
                    )
                    for m in store.measurements()
                )
            )
    assert results[0] == results[1]
    assert results[0]
