"""The review app's JSON API and forms over real HTTP on loopback, on a real store file: the
queue, decisions, the curated view, and bad input (unknown id, a unit Pint cannot read, a value
that is not a number, a stale form, a missing CSRF token) refused with a message naming the
field and nothing written. The store's lock: a run holding it makes a decision wait then fail
(503); a killed server keeps every decision it answered."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from review_data import build
from review_server import review_process, serve

from pkharvest.store import Store

OUTLIER = "1002:1:18-27:31-35"  # clearance 2530 L/h, far from the midazolam median
HALF_LIFE = "1001:1:4-25:43-46"  # elimination half-life 3.1 h


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    return build(tmp_path / "store.duckdb")


def decisions(db: Path) -> list[dict]:
    with Store(db, read_only=True, lock=False) as store:
        return store.review_decisions()


def post(url: str, mid: str, body: object) -> requests.Response:
    return requests.post(f"{url}/api/items/{quote(mid, safe='')}", json=body, timeout=30)


def test_queue_is_ordered_by_need_and_filtered(db: Path) -> None:
    with serve(db) as url:
        items = requests.get(f"{url}/api/items?limit=50", timeout=30).json()["items"]
        assert len(items) == 8
        # flagged first (unit not read), then low entity confidence, then far from the median
        assert items[0]["flags"] == ["unparsable_unit:blorps"]
        assert items[1]["confidence"] < 0.8
        assert items[2]["id"] == OUTLIER
        first = items[0]
        assert {"id", "pmid", "parameter", "value", "unit", "evidence"} <= set(first)
        assert first["evidence"] == "The caffeine half-life was 5.0 blorps in smokers."
        two = requests.get(f"{url}/api/items?limit=2", timeout=30).json()["items"]
        assert [i["id"] for i in two] == [i["id"] for i in items[:2]]
        caffeine = requests.get(f"{url}/api/items?drug=Caffeine", timeout=30).json()["items"]
        assert {i["drug"] for i in caffeine} == {"caffeine"} and len(caffeine) == 2
        cl = requests.get(f"{url}/api/items?parameter=CL", timeout=30).json()["items"]
        assert {i["parameter"] for i in cl} == {"CL"} and len(cl) == 4
        found = requests.get(f"{url}/api/items?q=infusion", timeout=30).json()["items"]
        assert [i["id"] for i in found] == [OUTLIER]


def test_accept_correct_reject_and_the_curated_view(db: Path) -> None:
    with serve(db) as url:
        r = post(url, HALF_LIFE, {"decision": "accept", "reviewer": "ann"})
        assert r.status_code == 200, r.text
        assert r.json()["item"]["status"] == "done"
        r = post(url, OUTLIER, {"decision": "correct", "reviewer": "ann",
                                "fields": {"value": "25.3", "unit": "mL/min"}})
        assert r.status_code == 200, r.text
        r = post(url, "1004:0:9-13:18-21", {"decision": "reject", "reason": "cited",
                                            "reviewer": "bob"})
        assert r.status_code == 200, r.text
        left = requests.get(f"{url}/api/items?limit=50", timeout=30).json()["items"]
        assert len(left) == 5 and OUTLIER not in {i["id"] for i in left}
    with Store(db, read_only=True, lock=False) as store:
        curated = {m.pmid + ":" + str(m.sentence_index): m for m in store.curated_measurements()}
        assert set(curated) == {"1001:1", "1002:1"}  # the rejected one is left out
        fixed = curated["1002:1"]
        assert fixed.value == 25.3 and fixed.unit_text == "mL/min"
        assert fixed.value_canonical == pytest.approx(25.3 * 60 / 1000)  # canonical L/h
        # the extracted row is untouched
        (orig,) = [m for m in store.measurements("1002") if m.sentence_index == 1]
        assert orig.value == 2530 and orig.unit_text == "L/h"
        rows = store.review_decisions()
        assert [(d["decision"], d["reviewer"]) for d in rows] == [
            ("accept", "ann"), ("correct", "ann"), ("reject", "bob")]
        assert rows[2]["reason"] == "cited"


@pytest.mark.parametrize(
    ("mid", "body", "status", "field", "words"),
    [
        ("no:such:id", {"decision": "accept", "reviewer": "ann"}, 404, "id", "no measurement"),
        (OUTLIER, {"decision": "correct", "reviewer": "ann", "fields": {"unit": "blorps/h"}},
         400, "unit", "blorps"),
        (OUTLIER, {"decision": "correct", "reviewer": "ann", "fields": {"value": "ten"}},
         400, "value", "not a number"),
        (OUTLIER, {"decision": "correct", "reviewer": "ann", "fields": {"unit": "mg"}},
         400, "unit", "does not suit"),
        (OUTLIER, {"decision": "correct", "reviewer": "ann", "fields": {"colour": "red"}},
         400, "fields", "colour"),
        (OUTLIER, {"decision": "correct", "reviewer": "ann", "fields": {"parameter": "XYZ"}},
         400, "parameter", "vocabulary"),
        (OUTLIER, {"decision": "correct", "reviewer": "ann", "fields": {"n": 0}},
         400, "n", "group size"),
        (OUTLIER, {"decision": "maybe", "reviewer": "ann"}, 400, "decision", "accept"),
        (OUTLIER, {"decision": "accept"}, 400, "reviewer", "name"),
        (OUTLIER, {"decision": "reject", "reviewer": "ann", "reason": "boring"}, 400,
         "reason", "not_pk"),
        (OUTLIER, {"decision": "accept", "reviewer": "ann", "version": "stale:0"}, 409,
         "version", "reload"),
        (OUTLIER, [1, 2], 400, "body", "object"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    db: Path, mid: str, body: object, status: int, field: str, words: str
) -> None:
    with serve(db) as url:
        r = post(url, mid, body)
    assert r.status_code == status, r.text
    payload = r.json()
    assert payload["field"] == field
    assert payload["error"].startswith(f"{field}: ") and words in payload["error"]
    assert decisions(db) == []


def test_bad_requests_of_the_api(db: Path) -> None:
    with serve(db) as url:
        r = requests.post(f"{url}/api/items/{quote(OUTLIER, safe='')}", timeout=30,
                          data="decision=accept", headers={"content-type": "text/plain"})
        assert r.status_code == 400 and r.json()["field"] == "body"
        r = requests.post(f"{url}/api/items/{quote(OUTLIER, safe='')}", timeout=30,
                          data="{not json", headers={"content-type": "application/json"})
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
        r = requests.get(f"{url}/api/items?limit=lots", timeout=30)
        assert r.status_code == 400 and r.json()["field"] == "limit"
        r = requests.get(f"{url}/api/items?status=maybe", timeout=30)
        assert r.status_code == 400 and r.json()["field"] == "status"
        r = requests.post(f"{url}/api/items/{quote(OUTLIER, safe='')}", timeout=30,
                          json={"decision": "accept", "reviewer": "x"},
                          headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and r.json()["field"] == "origin"
    assert decisions(db) == []


def _form(html: str, form_id: str) -> dict[str, str]:
    block = re.search(rf'<form[^>]*id="{form_id}".*?</form>', html, re.S)
    assert block, form_id
    return {m.group(1): m.group(2) for m in re.finditer(
        r'<input type="hidden" name="(\w+)" value="([^"]*)"', block.group(0))}


def test_forms_need_csrf_and_a_stale_form_is_refused(db: Path) -> None:
    item_url = f"/items/{quote(OUTLIER, safe='')}"
    with serve(db, reviewer="ann") as url:
        s = requests.Session()
        page = s.get(url + item_url, timeout=30)
        assert page.status_code == 200 and "2530" in page.text
        form = _form(page.text, "accept-form")
        r = s.post(url + item_url + "/decide", timeout=30, allow_redirects=False,
                   data={**form, "csrf": "forged"})
        assert r.status_code == 403 and "CSRF" in r.text
        assert decisions(db) == []
        # another reviewer decides on the item in the meantime: the open form is stale
        assert post(url, OUTLIER, {"decision": "accept", "reviewer": "bob"}).status_code == 200
        r = s.post(url + item_url + "/decide", timeout=30, allow_redirects=False,
                   data={**_form(page.text, "reject-form"), "reviewer": "ann"})
        assert r.status_code == 409 and "reload" in r.text
        assert [d["reviewer"] for d in decisions(db)] == ["bob"]
        # a fresh form works and leads to the next item of the queue
        page = s.get(url + item_url, timeout=30)
        r = s.post(url + item_url + "/decide", timeout=30, allow_redirects=False,
                   data={**_form(page.text, "reject-form"), "reason": "wrong_value",
                         "reviewer": "ann"})
        assert r.status_code == 303, r.text
        assert r.headers["location"].startswith("/items/")
    assert [(d["decision"], d["reviewer"]) for d in decisions(db)] == [
        ("accept", "bob"), ("reject", "ann")]


def test_token_required_off_loopback(db: Path) -> None:
    with serve(db, token="s3cret") as url:
        r = requests.get(f"{url}/api/items", timeout=30)
        assert r.status_code == 401 and r.json()["field"] == "token"
        r = requests.get(f"{url}/api/items", timeout=30,
                         headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 200
        s = requests.Session()
        assert s.get(f"{url}/queue?token=s3cret", timeout=30).status_code == 200
        assert s.get(f"{url}/queue", timeout=30).status_code == 200  # the cookie carries it


def test_refresh_holding_the_lock_makes_a_decision_wait_then_fail(db: Path) -> None:
    with review_process(db, "--lock-wait", "1") as (_, url):
        with Store(db):  # a run writing the store
            r = post(url, OUTLIER, {"decision": "accept", "reviewer": "ann"})
            assert r.status_code == 503
            assert "locked" in r.json()["error"]
        r = post(url, OUTLIER, {"decision": "accept", "reviewer": "ann"})
        assert r.status_code == 200, r.text
        # between requests the server holds nothing: a run can open the store
        with Store(db, lock_timeout=5) as store:
            assert store.review_counts()["done"] == 1


def test_a_killed_server_loses_no_answered_decision(db: Path) -> None:
    with review_process(db) as (proc, url):
        for mid in (OUTLIER, HALF_LIFE):
            assert post(url, mid, {"decision": "accept", "reviewer": "ann"}).status_code == 200
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert [d["measurement_id"] for d in decisions(db)] == [OUTLIER, HALF_LIFE]
