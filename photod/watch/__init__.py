"""Finding photos: folder walks, the start-up reconcile, and live watching."""
