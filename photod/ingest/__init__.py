"""Ingest: reading photo files safely, decoding them once into a bounded, upright RGB image."""
