"""Model references, lazy model sessions with an idle time-to-live, and the CLIP embedder.

Every model (CLIP, the face backends, the VLMs) is a :class:`photod.models.session.ModelSession`
tracked by :class:`photod.models.cache.ModelSessions`. The models run in the daemon's own
process: concept training shares the loaded models with inference. Unloading gives the
models' memory back, not the imported libraries' (docs/benchmarks.md has the figures).
"""
