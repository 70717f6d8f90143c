"""The router, fold averaging, routed blending, the submission zip and evaluation."""
