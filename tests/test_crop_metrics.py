"""Accuracy metrics against hand-computed examples."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from eolab.crop.metrics import (
    accuracy_report,
    cohen_kappa,
    confusion_matrix,
    overall_accuracy,
    per_class_scores,
    plot_confusion_matrix,
)

# reference and prediction of six items (worked by hand below)
T = [0, 0, 0, 1, 1, 2]
P = [0, 0, 1, 1, 2, 2]


def test_confusion_matrix__by_hand():
    cm, labels = confusion_matrix(T, P)
    np.testing.assert_array_equal(labels, [0, 1, 2])
    np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])


def test_confusion_matrix__label_order_ignore_and_unknown():
    cm, _ = confusion_matrix(np.array(T).reshape(2, 3), np.array(P).reshape(2, 3),
                                  labels=[2, 0, 1])
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 2, 1], [1, 0, 1]])
    cm, _labels = confusion_matrix(T + [255, 0], P + [0, 255], ignore=255)
    assert cm.sum() == 6
    cm, _ = confusion_matrix(T, P, labels=[0, 1])     # pairs involving class 2 dropped
    np.testing.assert_array_equal(cm, [[2, 1], [0, 1]])


def test_overall_accuracy_and_kappa__by_hand():
    assert overall_accuracy(T, P) == pytest.approx(4 / 6)
    # p_o = 4/6; marginals ref (3, 2, 1), pred (2, 2, 2): p_e = 12/36; kappa = (2/3-1/3)/(2/3)
    assert cohen_kappa(T, P) == pytest.approx(0.5)
    assert cohen_kappa(T, T) == pytest.approx(1.0)
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) == 1.0
    # systematic disagreement: below chance
    assert cohen_kappa([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)
    assert math.isnan(overall_accuracy([], []))


def test_per_class_scores__by_hand():
    s = per_class_scores(T, P)
    assert list(s) == [0, 1, 2]
    assert s[0] == pytest.approx({"precision": 1.0, "recall": 2 / 3, "f1": 0.8, "support": 3})
    assert s[1] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert s[2] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    # a class never predicted and absent from the reference: 0/0 → NaN, not 0
    s = per_class_scores(T, P, labels=[0, 1, 2, 7])
    assert math.isnan(s[7]["precision"]) and math.isnan(s[7]["recall"])


def test_accuracy_report():
    r = accuracy_report(T, P)
    assert r["n"] == 6 and r["labels"] == [0, 1, 2]
    assert r["overall_accuracy"] == pytest.approx(4 / 6)
    assert r["kappa"] == pytest.approx(0.5)
    assert r["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert r["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_size_mismatch():
    with pytest.raises(ValueError, match="differ in size"):
        overall_accuracy([1, 2], [1])


def test_plot_confusion_matrix():
    cm, labels = confusion_matrix(T, P)
    ax = plot_confusion_matrix(cm, labels, names={0: "Legumes", 1: "Grassland", 2: "Maize"})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Legumes", "Grassland", "Maize"]
    img = ax.images[0].get_array()
    np.testing.assert_allclose(img[0], [2 / 3, 1 / 3, 0])          # rows as shares
    assert any(t.get_text() == "0.67" for t in ax.texts)
    ax2 = plot_confusion_matrix(cm, labels, normalize=False)
    assert any(t.get_text() == "2" for t in ax2.texts)
    with pytest.raises(ValueError, match="square"):
        plot_confusion_matrix(cm[:2], labels)
    import matplotlib.pyplot as plt
    plt.close("all")
