"""pkharvest: pull pharmacokinetic parameters out of the literature into a DuckDB store."""

__version__ = "0.1.0"
