"""The router: LightGBM from embeddings of gray inputs to the cluster of their originals."""

import json
from pathlib import Path

import lightgbm as lgb
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from hueroute.errors import InputError
from hueroute.files import write_text_atomic


class ClusterRouter(ClassifierMixin, BaseEstimator):
    """Predicts cluster probabilities (noise, -1, is a class like the others) from embeddings.

    Attributes: `classes_` (the cluster labels, sorted), `booster_` (the fitted LightGBM
    booster; None when training saw a single class, which then gets probability 1).
    """

    def __init__(
        self,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 5,
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> "ClusterRouter":
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.booster_ = None
        if len(self.classes_) > 1:
            model = lgb.LGBMClassifier(
                n_estimators=self.n_estimators,
                learning_rate=self.learning_rate,
                num_leaves=self.num_leaves,
                min_child_samples=self.min_child_samples,
                random_state=self.random_state,
                n_jobs=1,
                deterministic=True,
                force_row_wise=True,
                verbose=-1,
            )
            self.booster_ = model.fit(np.asarray(X, np.float32), codes).booster_
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(N, classes) probabilities, columns in the order of `classes_`."""
        X = np.asarray(X, np.float32)
        if self.booster_ is None:
            return np.ones((len(X), 1))
        raw = self.booster_.predict(X)
        return np.column_stack([1 - raw, raw]) if raw.ndim == 1 else raw

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]

    def save(self, folder: Path) -> None:
        """router.json (settings and classes) and, when fitted on several classes, model.txt."""
        if self.booster_ is not None:
            write_text_atomic(folder / "model.txt", self.booster_.model_to_string())
        state = {"params": self.get_params(), "classes": self.classes_.tolist()}
        write_text_atomic(folder / "router.json", json.dumps(state, indent=2) + "\n")

    @classmethod
    def load(cls, folder: Path) -> "ClusterRouter":
        path = folder / "router.json"
        if not path.is_file():
            raise InputError(path, "does not exist: run `hueroute route` first")
        state = json.loads(path.read_text())
        router = cls(**state["params"])
        router.classes_ = np.array(state["classes"])
        router.booster_ = None
        if len(router.classes_) > 1:
            model = folder / "model.txt"
            if not model.is_file():
                raise InputError(model, "does not exist: run `hueroute route --force`")
            router.booster_ = lgb.Booster(model_file=str(model))
        return router
