"""Restorer networks, their Lightning training per expert and fold, checkpoints and a manifest."""
