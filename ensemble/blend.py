"""How much each expert counts for one image, from its routing probabilities."""

import numpy as np

from hueroute.run import GLOBAL, expert_of

Weights = dict[str, float]  # expert -> weight, summing to 1


def blend_weights(
    probabilities: np.ndarray,
    classes: np.ndarray,
    top_k: int,
    min_probability: float,
    allowed: set[str] | None = None,
) -> list[Weights]:
    """Per image, the `top_k` most probable clusters weighted by probability (noise being the
    global expert's); an image whose top probability is under `min_probability` goes to the
    global expert alone. With `allowed`, a cluster expert not in it gives its weight to the
    global expert."""
    blends = []
    for row in np.atleast_2d(probabilities):
        order = np.argsort(-row, kind="stable")[:top_k]
        if row[order[0]] < min_probability:
            blends.append({GLOBAL: 1.0})
            continue
        weights: Weights = {}
        for index in order:
            if row[index] > 0:
                expert = expert_of(int(classes[index]))
                if allowed is not None and expert not in allowed:
                    expert = GLOBAL
                weights[expert] = weights.get(expert, 0.0) + float(row[index])
        total = sum(weights.values())
        blends.append({expert: weight / total for expert, weight in weights.items()})
    return blends


def oracle_weights(clusters: np.ndarray) -> list[Weights]:
    """Each image to the expert of its true cluster."""
    return [{expert_of(int(c)): 1.0} for c in clusters]
