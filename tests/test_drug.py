"""Drug attribution: sentence → title → chemicals → query, and the suffix heuristic."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pkharvest.drug import (
    attribute_drug,
    drug_vocabulary,
    find_drug_mentions,
    looks_like_drug,
)


def test_nearest_mention_before_the_parameter_wins() -> None:
    s = "After rifampicin pretreatment, midazolam clearance was 5 L/h and warfarin had no effect."
    got = attribute_drug(s, s.index("clearance"), "A title", ["Midazolam", "Rifampin"], None)
    assert got == ("Midazolam", "sentence")  # lexicon form from the chemical list


def test_mention_after_the_parameter_when_none_before() -> None:
    s = "The half-life of vancomycin was 6 h."
    assert attribute_drug(s, s.index("half-life"), "", [], None) == ("vancomycin", "sentence")


def test_two_drugs_each_parameter_gets_its_own() -> None:
    s = "Imatinib clearance was 10 L/h whereas nilotinib clearance was 29 L/h."
    first = attribute_drug(s, s.index("clearance"), "", [], None)
    second = attribute_drug(s, s.rindex("clearance"), "", [], None)
    assert first == ("imatinib", "sentence") and second == ("nilotinib", "sentence")


def test_title_then_chemicals_then_query() -> None:
    s = "The half-life was 6 h."
    assert attribute_drug(s, 4, "Pharmacokinetics of meropenem in neonates", [], None) == (
        "meropenem", "title")
    # class names in the chemical list are skipped
    assert attribute_drug(s, 4, "A study in neonates", ["Anti-Bacterial Agents", "Tobramycin"],
                          None) == ("Tobramycin", "chemicals")
    assert attribute_drug(s, 4, "A study in neonates", ["Anti-Bacterial Agents"],
                          "teicoplanin[tiab] AND pharmacokinetics") == ("teicoplanin", "query")
    assert attribute_drug(s, 4, "", [], "busulfan AND busulfan[mh]") == ("busulfan", "query")


def test_chemical_list_is_a_lexicon_in_the_sentence() -> None:
    s = "Clearance of CYCLOSPORINE was 5 L/h after dosing with vancomycin hydrochloride."
    assert attribute_drug(s, 0, "", ["Cyclosporine"], None) == ("Cyclosporine", "sentence")
    names = [d.name for d in find_drug_mentions(s, ["Vancomycin Hydrochloride"])]
    assert "Vancomycin Hydrochloride" in names


def test_nothing_found() -> None:
    s = "The half-life was 6 h."
    assert attribute_drug(s, 4, "A study in neonates", [], "pharmacokinetics AND clearance") == (
        None, "none")
    assert attribute_drug(s, 4, None, None, "neonates AND sepsis") == (None, "none")


@pytest.mark.parametrize(("word", "expected"), [
    ("atorvastatin", True), ("imatinib", True), ("trastuzumab", True), ("ketoconazole", True),
    ("metoprolol", True), ("gentamicin", True), ("ciprofloxacin", True), ("enoxaparin", True),
    ("alendronate", True), ("lorazepam", True), ("doxycycline", True), ("cisplatin", True),
    ("cholesterol", False), ("glucuronide", False), ("population", False), ("evidence", False),
    ("pril", False), ("mab", False), ("2-azole", False),
])
def test_suffix_heuristic(word: str, expected: bool) -> None:
    assert looks_like_drug(word) is expected


def test_bad_input_never_raises() -> None:
    assert attribute_drug(None, "x", 5, None, 3) == (None, "none")  # type: ignore[arg-type]
    assert find_drug_mentions(None) == []  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.integers(-10, 100), st.text(max_size=40),
       st.lists(st.text(max_size=15), max_size=4), st.one_of(st.none(), st.text(max_size=30)))
def test_attribute_drug_is_total(sentence: str, pos: int, title: str, chemicals: list[str],
                                 query: str | None) -> None:
    drug, source = attribute_drug(sentence, pos, title, chemicals, query)
    assert source in {"sentence", "title", "chemicals", "query", "none"}
    assert (drug is None) == (source == "none")


def test_vocabulary_names_drugs_the_suffixes_miss() -> None:
    s = "Lumefantrine AUC was 580 mg·h/L and artemether AUC 0.3 mg·h/L."
    assert attribute_drug(s, s.index("AUC"), "", [], "vancomycin") == ("lumefantrine", "sentence")
    assert attribute_drug(s, s.rindex("AUC"), "", [], "vancomycin") == ("artemether", "sentence")
    assert "lumefantrine" in drug_vocabulary() and "creatinine" not in drug_vocabulary()


def test_query_is_a_last_resort_after_the_title_and_abstract() -> None:
    s = "The AUC was 580 mg·h/L."
    title = "Pharmacokinetics in pregnant women with malaria"
    abstract = "Artemether-lumefantrine is given twice daily. Lumefantrine exposure was low."
    got = attribute_drug(s, 4, title, [], "vancomycin", abstract=abstract)
    assert got == ("lumefantrine", "abstract")
    assert attribute_drug(s, 4, title, [], "vancomycin") == ("vancomycin", "query")


def test_mesh_headings_that_name_drugs() -> None:
    s = "The AUC was 580 mg·h/L."
    mesh = ["Humans", "Antimalarials", "Lumefantrine", "Pregnancy"]
    assert attribute_drug(s, 4, "", [], "vancomycin", mesh=mesh) == ("Lumefantrine", "mesh")
    s = "Lumefantrine AUC was 580 mg·h/L."  # a MeSH heading is a lexicon name in the sentence
    assert attribute_drug(s, 13, "", [], None, mesh=mesh)[1] == "sentence"


def test_vocabulary_file_states_its_source_and_licence() -> None:
    from importlib import resources

    folder = resources.files("pkharvest") / "resources" / "drugs"
    readme = (folder / "README.md").read_text(encoding="utf-8")
    header = (folder / "drug_names.txt").read_text(encoding="utf-8").splitlines()[0]
    assert "2.0.9" in readme and "CC0" in readme and "2.0.9" in header
