"""Fetching PubMed records from NCBI E-utilities: transport, parsing, record/replay."""

from pkharvest.fetch.client import (
    DEFAULT_BASE_URL,
    EFETCH,
    ENV_API_KEY,
    ENV_EMAIL,
    ENV_EUTILS_URL,
    ESEARCH,
    EutilsClient,
    RetryPolicy,
)
from pkharvest.fetch.parse import (
    SearchResult,
    flatten_markup,
    parse_esearch_xml,
    parse_pubmed_xml,
)
from pkharvest.fetch.ratelimit import RateLimiter, shared_rate_limiter
from pkharvest.fetch.recording import Recorder, Replayer, request_key

__all__ = [
    "DEFAULT_BASE_URL",
    "EFETCH",
    "ENV_API_KEY",
    "ENV_EMAIL",
    "ENV_EUTILS_URL",
    "ESEARCH",
    "EutilsClient",
    "RateLimiter",
    "Recorder",
    "Replayer",
    "RetryPolicy",
    "SearchResult",
    "flatten_markup",
    "parse_esearch_xml",
    "parse_pubmed_xml",
    "request_key",
    "shared_rate_limiter",
]
