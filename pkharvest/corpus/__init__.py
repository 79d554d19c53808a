"""Annotated PK sentence corpora (Prodigy JSONL as published with PRED and PKNER)."""
