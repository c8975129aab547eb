"""The staged per-photo pipeline: tasks, the stage interface, runners."""
