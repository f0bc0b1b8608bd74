"""The crop LSTM on real data: UCR "Crop" (46-step FORMOSAT-2 NDVI, 24 classes;
../shared/realdata/ucr_crop), trained with ``fit``'s DEFAULT options against
1-nearest-neighbour Euclidean classification on a fixed, seeded held-out fifth
(duplicated series removed first). Goal of issue 6: at least 3 points better
(goal 5). Nothing was tuned on this fifth: options were chosen on a validation
split carved from the other four fifths (``_train_ucr.tuning_split``). The fifth
has been looked at twice, once for each set of defaults: kernels 3/5/9 scored
+2.7 points, kernels 9/19/39 (chosen on two tuning splits) +4.4 (LSTM 0.7117,
1-NN 0.6672). ``python benchmarks/bench_crop_lstm.py`` prints the numbers.
Training takes about 3 minutes on 2 quiet CPU cores (191 s measured), more on a busy
machine, so the test runs only when asked.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from eolab.crop._train_ucr import nearest_neighbour, score_ucr_crop, tuning_split, ucr_split

pytestmark = pytest.mark.realdata


def test_ucr_split__deduplicated_and_disjoint(realdata):
    xtr, ytr, xte, _yte = ucr_split(realdata / "ucr_crop" / "Crop_TRAIN.tsv")
    assert xtr.shape[1:] == (46, 1) and np.unique(ytr).size == 24
    # 7200 rows, 680 exact repeats (SOURCE.md): 6520 distinct series, a fifth held out
    assert xtr.shape[0] + xte.shape[0] == 6520 and xte.shape[0] == 1304
    both = np.concatenate([xtr, xte]).reshape(6520, -1)
    assert np.unique(both, axis=0).shape[0] == 6520        # no series on both sides


def test_tuning_split__inside_the_training_four_fifths(realdata):
    path = realdata / "ucr_crop" / "Crop_TRAIN.tsv"
    xtr, ytr, xte, _ = ucr_split(path)
    fx, fy, vx, vy = tuning_split(path)
    assert fy.size + vy.size == ytr.size and vy.size == pytest.approx(0.2 * ytr.size, abs=24)
    rows = lambda a: {r.tobytes() for r in a.reshape(a.shape[0], -1)}   # noqa: E731
    assert rows(fx) | rows(vx) == rows(xtr)              # a partition of the training part
    assert not rows(vx) & rows(xte) and not rows(fx) & rows(xte)   # the held-out fifth unused
    # stratified: every class keeps about a fifth of its series in the tuning validation set
    for cls in np.unique(ytr):
        n = np.sum(ytr == cls)
        assert abs(np.sum(vy == cls) - 0.2 * n) <= 1
    np.testing.assert_array_equal(tuning_split(path)[3], vy)       # seeded


def test_nearest_neighbour__by_hand():
    train = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    labels = np.array([3, 8, 1])
    np.testing.assert_array_equal(nearest_neighbour(train, labels, np.array(
        [[0.2, -0.1], [4.0, 4.5], [0.9, 0.6]])), [3, 1, 8])


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("EOLAB_UCR_TRAINING") != "1",
                    reason="trains for many minutes on 2 cores; set EOLAB_UCR_TRAINING=1, or run "
                           "benchmarks/bench_crop_lstm.py")
def test_ucr_crop__default_lstm_beats_1nn(realdata):
    torch.set_num_threads(2)
    r = score_ucr_crop(realdata / "ucr_crop", device="cpu")
    print(r)
    assert r["n_test"] == 1304
    assert r["nn1_accuracy"] == pytest.approx(0.667, abs=0.002)     # the baseline, fixed
    assert r["gain_points"] >= 3.0, r
