"""Concept heads: the person head (faces), the object head (CLIP) and plugin heads."""
