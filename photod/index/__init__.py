"""The SQLite index: schema and migrations, the one writer, the job queue, queries."""
