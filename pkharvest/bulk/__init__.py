"""Bulk runs over NLM PubMed XML baseline and update files (``pubmedYYnNNNN.xml.gz``)."""

from pkharvest.bulk.engine import BulkSummary, FileSummary, run_bulk
from pkharvest.bulk.reader import BulkItem, Deletion, baseline_files, file_digest, read_baseline
from pkharvest.bulk.workers import ENGINES, ModelSpec, make_workers, process_articles

__all__ = ["ENGINES", "BulkItem", "BulkSummary", "Deletion", "FileSummary", "ModelSpec",
           "baseline_files", "file_digest", "make_workers", "process_articles",
           "read_baseline", "run_bulk"]
