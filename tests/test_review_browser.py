"""The review pages as a person uses them, in a real browser: Playwright for Python driving the
system's Chromium (Debian package ``chromium``; ``PKHARVEST_CHROMIUM`` names another binary).
Open the queue, accept one item with the keyboard, correct one (value and unit), reject one,
fix the entity spans of one sentence; then check the store and the corrections export."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from review_data import build
from review_server import serve
from typer.testing import CliRunner

from pkharvest.cli import app
from pkharvest.corpus.reader import read_corpus
from pkharvest.store import Store

pytestmark = pytest.mark.slow

CHROMIUM = (os.environ.get("PKHARVEST_CHROMIUM") or shutil.which("chromium")
            or "/usr/bin/chromium")
OUTLIER = "1002:1:18-27:31-35"
CMAX = "1004:0:9-13:18-21"
VOLUME = "1003:1:4-26:31-33"

SELECT = """([text, occurrence]) => {
  const p = document.getElementById('sentence');
  const full = p.getAttribute('data-text');
  let at = -1;
  for (let i = 0; i <= occurrence; i++) { at = full.indexOf(text, at + 1); }
  const walker = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let node, done = 0, setStart = false;
  while ((node = walker.nextNode())) {
    const base = parseInt(node.parentElement.getAttribute('data-start'), 10);
    const len = node.textContent.length;
    if (!setStart && at >= base && at < base + len) {
      range.setStart(node, at - base); setStart = true;
    }
    if (setStart && at + text.length <= base + len) {
      range.setEnd(node, at + text.length - base); done = 1; break;
    }
  }
  const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
  return done;
}"""


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: install it (apt-get install chromium, as "
                    "scripts/setup.sh does) or set PKHARVEST_CHROMIUM")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def test_review_in_the_browser(browser, tmp_path: Path) -> None:
    db = build(tmp_path / "store.duckdb")
    with serve(db, reviewer="eve") as url:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(url + "/")
        assert page.locator("table.queue tbody tr").count() == 8
        assert page.locator("#count-todo").inner_text() == "8"
        # the filters narrow the queue in place (htmx)
        page.select_option("select[name=parameter]", "CL")
        page.wait_for_function(
            "document.querySelectorAll('table.queue tbody tr').length === 4")
        page.select_option("select[name=parameter]", "")
        page.wait_for_function(
            "document.querySelectorAll('table.queue tbody tr').length === 8")

        # accept the first item with the keyboard: n opens it, a accepts it
        page.keyboard.press("n")
        page.wait_for_selector("#accept-form")
        first = page.locator("table.fields").inner_text()
        assert "blorps" in first
        page.keyboard.press("a")
        page.wait_for_selector("#notice")
        assert "accept saved" in page.locator("#notice").inner_text()

        # correct the outlier: value and unit
        page.goto(f"{url}/items/{quote(OUTLIER, safe='')}")
        page.keyboard.press("c")
        page.fill("#f-value", "25.3")
        page.fill("#f-unit", "mL/min")
        page.click("#correct")
        page.wait_for_selector("#notice")
        assert "correct saved" in page.locator("#notice").inner_text()

        # a unit Pint cannot read is refused with a message naming the field
        page.goto(f"{url}/items/{quote(VOLUME, safe='')}")
        page.keyboard.press("c")
        page.fill("#f-unit", "blorps")
        page.click("#correct")
        page.wait_for_selector("#error")
        assert page.locator("#error").inner_text().startswith("unit:")

        # reject the volume with a reason, by keyboard
        page.goto(f"{url}/items/{quote(VOLUME, safe='')}")
        page.select_option("#reason", "not_pk")
        page.locator("body").click(position={"x": 5, "y": 300})
        page.keyboard.press("r")
        page.wait_for_selector("#notice")
        assert "reject saved" in page.locator("#notice").inner_text()

        # fix the spans of the Cmax sentence: add the dose and its unit
        page.goto(f"{url}/items/{quote(CMAX, safe='')}")
        page.click("#spans-box summary")
        assert page.evaluate(SELECT, ["200", 0]) == 1
        page.click("#label-VALUE")
        assert page.evaluate(SELECT, ["mg", 1]) == 1
        page.click("#label-UNITS")
        spans = json.loads(page.input_value("#spans-input"))
        dose = "Caffeine Cmax was 8.2 mg/L after a 200 mg oral dose.".index("200 mg")
        assert {"start": dose, "end": dose + 3, "label": "VALUE"} in spans
        assert {"start": dose + 4, "end": dose + 6, "label": "UNITS"} in spans
        page.click("#save-spans")
        page.wait_for_selector("#notice")
        assert "spans saved" in page.locator("#notice").inner_text()
        assert page.locator("#sentence .ent-VALUE").count() == 2
        page.screenshot(path=str(tmp_path / "item.png"), full_page=True)
        page.goto(url + "/queue")
        assert page.locator("#count-done").inner_text() == "3"

    with Store(db, read_only=True, lock=False) as store:
        rows = store.review_decisions()
        assert [(d["decision"], d["reviewer"]) for d in rows] == [
            ("accept", "eve"), ("correct", "eve"), ("reject", "eve"), ("spans", "eve")]
        assert rows[1]["fields"]["value"] == 25.3 and rows[1]["fields"]["unit_text"] == "mL/min"
        assert rows[2]["reason"] == "not_pk"

    out = tmp_path / "corrections.jsonl"
    result = CliRunner().invoke(app, ["review", "export", "--db", str(db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    examples = {ex.text: ex for ex in read_corpus(out)}
    assert len(examples) == 4
    cmax = examples["Caffeine Cmax was 8.2 mg/L after a 200 mg oral dose."]
    assert [(s.label, cmax.text[s.start:s.end]) for s in cmax.spans] == [
        ("PK", "Cmax"), ("VALUE", "8.2"), ("UNITS", "mg/L"), ("VALUE", "200"), ("UNITS", "mg")]
    volume = examples["The volume of distribution was 66 L in adults."]
    assert "VALUE" not in {s.label for s in volume.spans}  # the rejected value is removed
    assert any(r.label == "C_VAL" for r in examples[
        "One patient had a clearance of 2530 L/h after the infusion."].relations)
