"""The trained triage model at runtime: committed weights, a dot product and a softmax.

``bot/triage/model.npz`` holds the vocabulary, the weight matrix and the model id
(a hash of the corpus, the feature version and the training settings). It is
written by ``mamoru triage train`` and committed, so the running bot never trains,
never downloads, and answers exactly as the evaluation printed. Inference needs
numpy and SudachiPy only (scikit-learn is used for training).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bot.domain.triage import Prediction, Route
from bot.triage import danger
from bot.triage.features import clean, features_of, kana_folded, mentions_counterpart, readable

MODEL_PATH = Path(__file__).parent / "model.npz"


class ModelFileError(Exception):
    """The model file is missing or does not match this code; the message says what to run."""


class LinearClassifier:
    """``Classifier``: tf-idf per feature group, each group L2-normalised, a linear layer, softmax.

    ``weights`` has one row per vocabulary entry with its idf already multiplied in;
    ``idf`` is kept for the normalisation, which needs each present feature's idf.
    """

    def __init__(
        self,
        vocabulary: list[str],
        idf: np.ndarray,
        weights: np.ndarray,
        bias: np.ndarray,
        labels: list[str],
        model_id: str,
    ) -> None:
        unknown = set(labels) - {r.value for r in Route}
        if unknown:
            raise ModelFileError(f"the model knows routes this code does not: {sorted(unknown)}")
        self._index = {feature: i for i, feature in enumerate(vocabulary)}
        self._idf_squared = (idf.astype(np.float64)) ** 2
        self._idf = idf.astype(np.float32)
        self._weights = weights.astype(np.float32)
        self._bias = bias.astype(np.float32)
        self._labels = labels
        self._model_id = model_id

    @property
    def model_id(self) -> str:
        """The trained model's id."""
        return self._model_id

    @property
    def labels(self) -> list[str]:
        """The routes in the order of the weight matrix's columns."""
        return list(self._labels)

    @property
    def size(self) -> int:
        """The number of features the model knows."""
        return len(self._index)

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LinearClassifier:
        """The model saved at ``path``."""
        try:
            with np.load(path, allow_pickle=False) as data:
                return cls(
                    [str(v) for v in data["vocabulary"]],
                    data["idf"],
                    data["weights"],
                    data["bias"],
                    [str(v) for v in data["labels"]],
                    str(data["model_id"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ModelFileError(
                f"{path}: cannot load the triage model ({exc}); run `make triage` to rebuild it"
            ) from exc

    def save(self, path: Path) -> None:
        """Write the model (vocabulary in a fixed order, so the file is reproducible)."""
        vocabulary = sorted(self._index, key=self._index.__getitem__)
        with path.open("wb") as out:
            np.savez_compressed(
                out,
                vocabulary=np.array(vocabulary),
                idf=self._idf,
                weights=self._weights,
                bias=self._bias,
                labels=np.array(self._labels),
                model_id=np.array(self._model_id),
            )

    def warm(self) -> None:
        """Load the dictionary now (about a second), not during a staff member's first turn."""
        self.predict("準備")

    def scores(self, text: str) -> np.ndarray:
        """The raw linear scores of ``text``, one per label."""
        cleaned = clean(text)
        return self._scores(features_of(cleaned, kana_folded(cleaned)))

    def _scores(self, groups: tuple[list[str], list[str]]) -> np.ndarray:
        result = self._bias.astype(np.float64)
        for group in groups:
            found = {i for f in group if (i := self._index.get(f)) is not None}
            if found:
                rows = np.fromiter(sorted(found), dtype=np.intp, count=len(found))
                norm = math.sqrt(float(self._idf_squared[rows].sum()))
                result = result + self._weights[rows].sum(axis=0) / norm
        return result

    def predict(self, text: str) -> Prediction:
        """The probability of each route, plus the explicit-danger and readability flags."""
        cleaned = clean(text)
        folded = kana_folded(cleaned)  # shared by the n-grams and the danger phrases
        scores = self._scores(features_of(cleaned, folded))
        exp = np.exp(scores - scores.max())
        probabilities = exp / exp.sum()
        return Prediction(
            probabilities={
                label: round(float(p), 4)
                for label, p in zip(self._labels, probabilities, strict=True)
            },
            danger=danger.mentions_danger(cleaned, folded),
            readable=readable(cleaned),
            model_id=self._model_id,
            counterpart=mentions_counterpart(cleaned, folded),
        )
