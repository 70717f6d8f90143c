"""Optuna studies of each expert's learning rate and scheduler, with pruning and shared storage."""
