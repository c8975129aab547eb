"""Concepts: the store (index rows + versioned artifacts), training, scheduled retraining."""
