"""Image embeddings (CLIP or EfficientNet-Lite), UMAP + HDBSCAN clusters, stratified folds."""
