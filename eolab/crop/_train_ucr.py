"""The real-data check of the crop LSTM: UCR "Crop" series, LSTM against 1-NN.

Protocol (fixed before any result was seen, and the same for both methods):
read ``Crop_TRAIN.tsv``, drop repeated series (:func:`~eolab.crop.dataset.deduplicate`,
so that no series sits on both sides), hold out the fifth drawn by
:func:`~eolab.crop.dataset.holdout_split` (seed 0), train on the rest, score
both on the held-out fifth. The LSTM is trained by :func:`eolab.crop.train.fit`
with its default options unless options are given; the held-out fifth is
never used for anything but the final score.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from eolab.crop.dataset import deduplicate, holdout_split, read_ucr_crop

__all__ = ["nearest_neighbour", "score_tuning", "score_ucr_crop", "tuning_split", "ucr_split"]


def nearest_neighbour(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
                      *, block: int = 512) -> np.ndarray:
    """1-nearest-neighbour labels under the Euclidean distance (ties: the first)."""
    a = train_x.reshape(train_x.shape[0], -1).astype(np.float64)
    b = test_x.reshape(test_x.shape[0], -1).astype(np.float64)
    a2 = (a * a).sum(axis=1)
    out = np.empty(b.shape[0], dtype=train_y.dtype)
    for i in range(0, b.shape[0], block):
        bb = b[i:i + block]
        d = a2[None, :] - 2.0 * bb @ a.T        # + |b|², constant per row
        out[i:i + block] = train_y[d.argmin(axis=1)]
    return out


def ucr_split(path: str | os.PathLike[str], *, seed: int = 0, fraction: float = 0.2
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(train_x, train_y, test_x, test_y)``: deduplicated series, held-out fraction."""
    x, y = read_ucr_crop(path)
    x, y, _ = deduplicate(x, y)
    tr, te = holdout_split(y.size, fraction=fraction, seed=seed)
    return x[tr], y[tr], x[te], y[te]


def tuning_split(path: str | os.PathLike[str], *, seed: int = 0, fraction: float = 0.2
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(fit_x, fit_y, val_x, val_y)``: the tuning split, carved from the training four
    fifths of :func:`ucr_split` only (stratified, ``fraction`` per class, seeded).

    Every default of :func:`eolab.crop.train.fit` was chosen on this split; the
    held-out fifth plays no part in it.
    """
    from eolab.crop._train_loop import stratified_split

    xtr, ytr, _, _ = ucr_split(path)
    fit_idx, val_idx = stratified_split(ytr, fraction, np.random.default_rng(seed))
    return xtr[fit_idx], ytr[fit_idx], xtr[val_idx], ytr[val_idx]


def score_tuning(root: str | os.PathLike[str], *, tuning_seed: int = 0,
                 **fit_options: Any) -> dict[str, Any]:
    """Accuracy of ``fit(**fit_options)`` and of 1-NN on the tuning split (see
    :func:`tuning_split`): the number to compare options by."""
    fx, fy, vx, vy = tuning_split(_train_tsv(root), seed=tuning_seed)
    nn_acc, acc, train_s, clf = _compare(fx, fy, vx, vy, fit_options)
    return {"n_fit": int(fy.size), "n_val": int(vy.size), "nn1_accuracy": nn_acc,
            "lstm_accuracy": acc, "gain_points": 100 * (acc - nn_acc), "train_s": train_s,
            "best_epoch": clf.training["best_epoch"]}


def _train_tsv(root: str | os.PathLike[str]) -> Path:
    path = Path(root)
    return path / "Crop_TRAIN.tsv" if path.is_dir() else path


def _compare(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray,
             test_y: np.ndarray, fit_options: dict[str, Any]) -> tuple[float, float, float, Any]:
    """1-NN accuracy, ``fit`` accuracy, training seconds and the classifier, on one split."""
    from eolab.crop.train import fit

    nn_acc = float(np.mean(nearest_neighbour(train_x, train_y, test_x) == test_y))
    start = time.perf_counter()
    clf = fit(train_x, train_y, bands=["NDVI"], **fit_options)
    train_s = time.perf_counter() - start
    return nn_acc, float(np.mean(clf.predict(test_x) == test_y)), train_s, clf


def score_ucr_crop(root: str | os.PathLike[str], *, split_seed: int = 0,
                   **fit_options: Any) -> dict[str, Any]:
    """Accuracy of the LSTM (``fit(**fit_options)``) and of 1-NN on the held-out fifth.

    Parameters
    ----------
    root
        ``ucr_crop`` folder (holding ``Crop_TRAIN.tsv``) or the file itself.
    split_seed
        Seed of the held-out fifth (0 is the fixed one of the accuracy goal).
    """
    xtr, ytr, xte, yte = ucr_split(_train_tsv(root), seed=split_seed)
    nn_acc, lstm_acc, train_s, clf = _compare(xtr, ytr, xte, yte, fit_options)
    return {"n_train": int(ytr.size), "n_test": int(yte.size), "classes": int(np.unique(ytr).size),
            "nn1_accuracy": nn_acc, "lstm_accuracy": lstm_acc,
            "gain_points": 100 * (lstm_acc - nn_acc), "train_s": train_s,
            "best_epoch": clf.training["best_epoch"],
            "epochs_run": len(clf.training["history"])}
