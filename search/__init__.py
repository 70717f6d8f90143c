"""Optuna studies of each expert's learning rate and schedule."""
