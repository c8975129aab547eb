"""photod: a self-hosted photo-library personalization daemon (MyVLM concepts)."""

__version__ = "0.1.0"
