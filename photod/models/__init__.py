"""Model references, lazy model sessions and the CLIP image embedder."""
