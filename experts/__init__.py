"""Restorer experts by kind (colour/, unet/; refine/ corrects the fill they start from), the
registry that builds them by name, and their training per expert and fold."""
