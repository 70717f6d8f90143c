"""The stages of a run in order, resumable, optionally within a time budget."""
