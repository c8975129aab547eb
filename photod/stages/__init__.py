"""photod's built-in pipeline stages, built and ordered by :func:`photod.app.build_stages`."""
