"""Accuracy of a classification: confusion matrix, overall accuracy, Cohen's kappa,
per-class precision / recall / F1, and a confusion-matrix plot (numpy and matplotlib only).

Conventions: rows of the confusion matrix are the **reference** (true) classes,
columns the **predicted** ones; ``labels`` fixes their order (default: the
sorted union of the labels found in both). Pixel- and parcel-level accuracy
use the same functions: pass one value per pixel or one per parcel.
Precision of a class never predicted, or recall of a class absent from the
reference, is NaN (0/0), not 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "accuracy_report",
    "cohen_kappa",
    "confusion_matrix",
    "overall_accuracy",
    "per_class_scores",
    "plot_confusion_matrix",
]


def _pair(y_true: Any, y_pred: Any, ignore: Any | None) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true).reshape(-1)
    p = np.asarray(y_pred).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in size: {t.size} and {p.size}")
    if ignore is not None:
        keep = (t != ignore) & (p != ignore)
        t, p = t[keep], p[keep]
    return t, p


def confusion_matrix(y_true: Any, y_pred: Any, *, labels: Sequence[Any] | np.ndarray | None = None,
                     ignore: Any | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Counts of (reference, predicted) pairs.

    Parameters
    ----------
    y_true, y_pred
        Reference and predicted labels, any shape (flattened), same size.
    labels
        Class order of rows and columns (default the sorted union); pairs with
        a label outside it are not counted.
    ignore
        A label (e.g. a no-data class) whose pixels, in either array, are left out.

    Returns
    -------
    (matrix, labels)
        int64 ``(k, k)`` counts, rows = reference, columns = prediction, and the labels.
    """
    t, p = _pair(y_true, y_pred, ignore)
    lab = np.unique(np.concatenate([t, p])) if labels is None else np.asarray(labels)
    k = lab.size
    order = np.argsort(lab, kind="stable")
    sorted_lab = lab[order]

    def index(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.clip(np.searchsorted(sorted_lab, v), 0, max(k - 1, 0))
        ok = sorted_lab[pos] == v if k else np.zeros(v.shape, bool)
        return order[pos], ok

    ti, tok = index(t)
    pi, pok = index(p)
    ok = tok & pok
    cm = np.bincount(ti[ok] * k + pi[ok], minlength=k * k).reshape(k, k).astype(np.int64)
    return cm, lab


def overall_accuracy(y_true: Any, y_pred: Any, *, ignore: Any | None = None) -> float:
    """Share of items whose prediction equals the reference (NaN when there are none)."""
    t, p = _pair(y_true, y_pred, ignore)
    return float(np.mean(t == p)) if t.size else float("nan")


def _kappa(cm: np.ndarray) -> float:
    n = cm.sum()
    if n == 0:
        return float("nan")
    po = np.trace(cm) / n
    pe = float(np.sum(cm.sum(axis=0) * cm.sum(axis=1))) / float(n) ** 2
    if pe == 1.0:
        return 1.0 if po == 1.0 else float("nan")
    return float((po - pe) / (1.0 - pe))


def cohen_kappa(y_true: Any, y_pred: Any, *, ignore: Any | None = None) -> float:
    """Cohen's kappa ``(p_o - p_e) / (1 - p_e)``, chance agreement from the marginals.

    1 is perfect agreement, 0 chance level; when both maps are one and the
    same single class (``p_e = 1``) it is 1.
    """
    cm, _ = confusion_matrix(y_true, y_pred, ignore=ignore)
    return _kappa(cm)


def _scores(cm: np.ndarray) -> dict[str, np.ndarray]:
    tp = np.diag(cm).astype(np.float64)
    pred = cm.sum(axis=0).astype(np.float64)
    ref = cm.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / pred
        recall = tp / ref
        f1 = 2 * tp / (pred + ref)
    return {"precision": precision, "recall": recall, "f1": f1, "support": ref.astype(np.int64)}


def per_class_scores(y_true: Any, y_pred: Any, *, labels: Sequence[Any] | np.ndarray | None = None,
                     ignore: Any | None = None) -> dict[Any, dict[str, float]]:
    """Precision, recall, F1 and support (reference count) of every class.

    Returns ``{label: {"precision", "recall", "f1", "support"}}`` in label
    order; 0/0 gives NaN. F1 is ``2 TP / (2 TP + FP + FN)``.
    """
    cm, lab = confusion_matrix(y_true, y_pred, labels=labels, ignore=ignore)
    s = _scores(cm)
    return {_plain(lab[i]): {k: (int(v[i]) if k == "support" else float(v[i]))
                             for k, v in s.items()} for i in range(lab.size)}


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def accuracy_report(y_true: Any, y_pred: Any, *, labels: Sequence[Any] | np.ndarray | None = None,
                    ignore: Any | None = None) -> dict[str, Any]:
    """Everything at once: ``overall_accuracy``, ``kappa``, ``macro_f1`` (mean F1 over
    classes present in the reference), ``per_class``, ``confusion`` (nested lists),
    ``labels`` and ``n``."""
    cm, lab = confusion_matrix(y_true, y_pred, labels=labels, ignore=ignore)
    s = _scores(cm)
    n = int(cm.sum())
    present = s["support"] > 0
    return {
        "n": n,
        "overall_accuracy": float(np.trace(cm) / n) if n else float("nan"),
        "kappa": _kappa(cm),
        "macro_f1": float(np.nanmean(np.where(present, s["f1"], np.nan)))
        if present.any() else float("nan"),
        "per_class": per_class_scores(y_true, y_pred, labels=lab, ignore=ignore),
        "confusion": cm.tolist(),
        "labels": [_plain(v) for v in lab],
    }


def plot_confusion_matrix(cm: Any, labels: Sequence[Any], *, names: Mapping[Any, str] | None = None,
                          normalize: bool = True, ax: Any | None = None,
                          title: str | None = "Confusion matrix", cmap: str = "Blues") -> Any:
    """Draw a confusion matrix (rows reference, columns prediction) with matplotlib.

    Parameters
    ----------
    cm, labels
        Counts from :func:`confusion_matrix` and their labels.
    names
        Display names per label (e.g. :data:`eolab.crop.dataset.CLASS_NAMES`).
    normalize
        Colour and annotate each row as shares of its reference count (recall
        on the diagonal); the counts are annotated otherwise.
    ax
        Axes to draw into (default a new figure).

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    m = np.asarray(cm, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] != len(labels):
        raise ValueError(f"cm must be square with one row per label, got {m.shape} and "
                         f"{len(labels)} labels")
    if ax is None:
        size = max(4.0, 0.45 * len(labels) + 2)
        _, ax = plt.subplots(figsize=(size + 1, size))
    shown = m
    if normalize:
        with np.errstate(invalid="ignore", divide="ignore"):
            shown = np.nan_to_num(m / m.sum(axis=1, keepdims=True))
    im = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1 if normalize else None)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04,
                       label="share of reference" if normalize else "count")
    ticks = [str(names.get(_plain(v), v)) if names else str(v) for v in labels]
    ax.set_xticks(range(len(labels)), ticks, rotation=90)
    ax.set_yticks(range(len(labels)), ticks)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    if title:
        ax.set_title(title)
    if len(labels) <= 20:
        top = shown.max() if shown.size else 0
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                if m[i, j]:
                    txt = f"{shown[i, j]:.2f}" if normalize else f"{int(m[i, j])}"
                    ax.text(j, i, txt, ha="center", va="center", fontsize=7,
                            color="white" if shown[i, j] > 0.5 * top else "black")
    return ax
