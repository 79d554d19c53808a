"""Loopback stand-ins for the remote services, for tests, benchmarks and offline trials:
``eutils_server`` (NCBI E-utilities: ESearch and EFetch on PubMed, with fault modes) and
``zenodo_server`` (a Zenodo record with files). Standard library only; real HTTP on
127.0.0.1."""
