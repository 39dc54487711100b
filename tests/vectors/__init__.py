"""Conformance vectors for `lucid verify` (tests/vectors/README.md)."""
