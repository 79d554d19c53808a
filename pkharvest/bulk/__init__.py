"""Bulk runs over NLM PubMed XML baseline and update files (``pubmedYYnNNNN.xml.gz``)."""

from pkharvest.bulk.engine import BulkSummary, FileSummary, run_bulk
from pkharvest.bulk.reader import BulkItem, Deletion, baseline_files, read_baseline

__all__ = ["BulkItem", "BulkSummary", "Deletion", "FileSummary", "baseline_files",
           "read_baseline", "run_bulk"]
