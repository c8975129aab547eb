"""The SQLite index: schema and migrations, the one writer, the job queue, queries.

:class:`Index` is the only way in: every SQL statement of photod lives in this package.
"""

from photod.index.facade import Index

__all__ = ["Index"]
