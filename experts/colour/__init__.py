"""The colour expert: per-pixel hue distributions from EfficientNet-Lite features, image-level
hue priors (its own, the global one, the nearest training originals'), a renderer that paints
the target histogram on the known luma."""
