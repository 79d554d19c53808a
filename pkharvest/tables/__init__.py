"""Tables of full-text articles: expanded grids (:mod:`~pkharvest.tables.grid`), value cells
and their statistics (:mod:`~pkharvest.tables.cells`), classification and extraction
(:mod:`~pkharvest.tables.extract`)."""

from pkharvest.tables.cells import CellValue, StatSpec, parse_cell, statistic_in
from pkharvest.tables.extract import (
    KINDS,
    TableResult,
    classify,
    extract_table,
    extract_tables,
    match_parameter,
    orientation,
    split_name_unit,
)

__all__ = [
    "KINDS",
    "CellValue",
    "StatSpec",
    "TableResult",
    "classify",
    "extract_table",
    "extract_tables",
    "match_parameter",
    "orientation",
    "parse_cell",
    "split_name_unit",
    "statistic_in",
]
