"""Train a crop-type LSTM classifier: :func:`fit`.

``fit(X, y)`` takes float sequences ``(samples, time, bands)`` (NaN = missing
observation) and labels of any integer values, and returns a
:class:`~eolab.crop.model.CropClassifier` with ``predict``, ``predict_proba``
(columns in sorted label order) and ``save``.

What the defaults do, and why (time-series classification with small
recurrent nets overfits fast and learns little from raw values):

* per-band standardisation with the training data's mean and standard
  deviation (saved with the model), missing values set to the band mean and
  flagged in an extra input channel, and the first difference in time of
  every band as extra inputs (the slope: green-up and senescence rates);
* a convolutional front-end in front of a one-layer unidirectional LSTM (64
  units): a multi-scale first layer (kernels 9, 19 and 39 side by side, 64
  channels in all, InceptionTime-style) and two residual layers (kernel 3),
  each with batch normalisation and ReLU (``conv_layers=3``); the LSTM
  outputs are pooled over time (mean and max) and, LSTM-FCN-style, the
  convolution outputs too (mean), instead of the last hidden state;
* light augmentation of every batch: random per-band scaling (2 % standard
  deviation) and Gaussian jitter (2 % of a band's spread);
* dropout 0.2, AdamW with weight decay 0.01, a one-cycle learning-rate
  schedule peaking at 5e-3 over 60 epochs, batches of 128, label smoothing
  0.1, and the weights of the epoch that scored best on a stratified
  validation split (10 %) kept. Early stopping is an option, off by
  default: under the one-cycle schedule the best epochs come late.

How they were chosen: on the UCR "Crop" series (46-step NDVI, 24 classes),
with the tuning split of :func:`eolab.crop._train_ucr.tuning_split`: a
stratified fifth (1,043 series) carved, seed 0, out of the four training
fifths (5,216 deduplicated series); ``fit`` trained on the other 4,173. The
held-out fifth of the accuracy goal played no part. 1-NN (Euclidean) scores
0.6625 on that tuning fifth. LSTM accuracies, 30 epochs unless said
(``_train_ucr.score_tuning``, 2 CPU threads; one run each, so differences
of about a point are within seed noise, ±1.4 points of standard error):

====================================================  ========
options (``fit`` keywords)                            accuracy
====================================================  ========
1 conv layer (difference, kernels 3/5/9, conv pool)   0.6750
the same, mixup (alpha 0.2)                           0.6644
**3 conv layers**                                     0.6855
3 conv layers, 60 epochs (the defaults)               0.6903
3 conv layers, 100 epochs                             0.6798
3 conv layers, weight average (EMA 0.99)              0.6846
3 conv layers, time shifts of up to 2 steps           0.6759
4 conv layers                                         0.6750
3 conv layers, 128 channels                           0.6759
3 conv layers, learning rate 1e-2                     0.6855
3 conv layers, batches of 64                          0.6692
3 conv layers, dropout 0.1, no label smoothing        0.6750
3 conv layers, no regularisation or augmentation      0.6731
3 conv layers, no validation split (last epoch)       0.6788
====================================================  ========

The first-difference inputs, the multi-scale kernels and the conv pooling
were taken from the literature (Karim et al. 2018; Fawaz et al. 2020;
Rußwurm & Körner 2020), not ablated one by one.

A second round (60 epochs, 1 thread per run, two runs side by side) also used
a second tuning split (``tuning_seed=1``, 1-NN 0.6548) to tell effects from
split and seed noise:

==========================================================  =========  =========
options (``fit`` keywords), 60 epochs                        tuning 0   tuning 1
==========================================================  =========  =========
kernels 3/5/9 (the previous defaults)                        0.6903     0.7057
kernels 3/5/9, ``seed=1``                                    0.6942
**kernels 9/19/39** (the defaults)                           0.7105     0.7162
kernels 9/19/39, ``seed=1``                                  0.7133
kernels 5/11/21                                              0.6951     0.7287
kernels 5/11/21, ``seed=1``                                  0.6731
kernels 3/5/9, last LSTM state pooled too                    0.6922
kernels 3/5/9, ``bidirectional=True`` (LSTM cost × 2)        0.6980     0.7018
``members=2`` (ensemble; inference cost × 2)                 0.7124     0.7095
``members=2, hidden_size=48``                                0.6913
``members=3, hidden_size=40, conv_channels=42``              0.6903
``teachers=2`` (distilled, weight 0.5, temperature 2)        0.6961
``teachers=2, distill_weight=0.9``                           0.7009     0.6970
``teachers=2, distill_weight=1.0``                           0.6970
``teachers=2, distill_weight=0.9, temperature=4``            0.6951
``teachers=2, distill_weight=0.9``, mixup (alpha 1)          0.6884
==========================================================  =========  =========

(The rows from ``members=2`` down have kernels 3/5/9; the first row's tuning-0
figure is the first round's run, on 2 threads.) Longer kernels, the
lengths InceptionTime uses (10, 20, 40, here odd), are ahead of 3/5/9 in all
three runs, by 1 to 2 points, and became the default. Over 12 monthly steps
the taps beyond the ends meet zeros, and inference stays above the goal
(``python benchmarks/bench_crop_lstm.py --skip-ucr --skip-train``). The
full-width ensemble of kernels 3/5/9 is ahead by 2.2 and 0.4 points, but two
members run at 16,655 sequences/s against 28,749 for one (``--arch
'{"members": 2}'``, 2 cores), below the goal of 20,000. Distilling it into
one network (``teachers``) kept about half its gain on the first split and
none on the second, at 3.3 times the training cost. ``bidirectional``,
``members``, ``teachers``, ``ema_decay`` and ``augment={"mixup": ...}`` are
options.

The held-out fifth (``EOLAB_UCR_TRAINING=1 pytest tests/test_crop_ucr.py``, 2
threads) has been looked at twice, once for each set of defaults: kernels
3/5/9, LSTM 0.6940 against 1-NN 0.6672, +2.7 points (60 epochs, 682 s on a
busy machine); kernels 9/19/39, LSTM 0.7117 against 0.6672, **+4.4 points**
(287 s), above the 3 points the issue asks for, short of the 5 it hopes for.

All randomness is seeded; on CPU two runs with the same seed and thread
count give identical weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from eolab.crop._lstm_net import ARCH_DEFAULTS, kernel_sizes
from eolab.crop._train_loop import train_net
from eolab.crop.model import CropClassifier, resolve_device
from eolab.errors import ModelError

__all__ = ["AUGMENT_DEFAULTS", "fit"]

#: Default augmentation (see :func:`fit`).
AUGMENT_DEFAULTS: dict[str, Any] = {"jitter": 0.02, "scale": 0.02, "mask": 0.0, "shift": 0,
                                    "mixup": 0.0}


def _class_weights(spec: Any, y_idx: np.ndarray, labels: np.ndarray) -> np.ndarray | None:
    if spec is None:
        return None
    counts = np.bincount(y_idx, minlength=labels.size).astype(np.float64)
    if isinstance(spec, str):
        if spec != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced', a mapping or an array; "
                             f"got {spec!r}")
        return np.asarray(counts.sum() / (labels.size * np.maximum(counts, 1)), dtype=np.float64)
    if isinstance(spec, Mapping):
        unknown = set(spec) - set(labels.tolist())
        if unknown:
            raise ValueError(f"class_weight names labels not in y: {sorted(unknown)}")
        return np.array([float(spec.get(lab, 1.0)) for lab in labels.tolist()])
    w = np.asarray(spec, dtype=np.float64)
    if w.shape != labels.shape:
        raise ValueError(f"class_weight needs one weight per class ({labels.size}), got {w.shape}")
    return w


def fit(X: Any, y: Any, *, bands: list[str] | tuple[str, ...] | None = None, seed: int = 0,
        epochs: int = 60, batch_size: int = 128, learning_rate: float = 5e-3,
        weight_decay: float = 1e-2, label_smoothing: float = 0.1,
        validation_fraction: float = 0.1, early_stopping: int | None = None,
        ema_decay: float = 0.0,
        class_weight: Any = None, augment: Mapping[str, Any] | None = None,
        hidden_size: int = ARCH_DEFAULTS["hidden_size"],
        num_layers: int = ARCH_DEFAULTS["num_layers"],
        bidirectional: bool = ARCH_DEFAULTS["bidirectional"],
        dropout: float = ARCH_DEFAULTS["dropout"],
        conv_channels: int = ARCH_DEFAULTS["conv_channels"],
        conv_kernel: int | Sequence[int] = tuple(ARCH_DEFAULTS["conv_kernel"]),
        conv_layers: int = ARCH_DEFAULTS["conv_layers"],
        difference: bool = ARCH_DEFAULTS["difference"],
        conv_pool: bool = ARCH_DEFAULTS["conv_pool"],
        members: int = ARCH_DEFAULTS["members"],
        teachers: int = 0, distill_weight: float = 0.5, temperature: float = 2.0,
        device: str = "auto", progress: bool = False) -> CropClassifier:
    """Train an LSTM classifier on labelled sequences.

    Parameters
    ----------
    X
        float ``(samples, time, bands)`` (a 2-D ``(samples, time)`` array is
        one band); NaN marks a missing observation. An all-NaN sequence is allowed.
    y
        Integer class labels, any values (e.g. TimeSen2Crop ids 0–15, UCR 1–24).
    bands
        Band names, kept with the model and checked at prediction (default
        ``band0``, ``band1``…).
    seed
        Seeds initialisation, shuffling, augmentation, dropout and the validation split.
    epochs, batch_size, learning_rate, weight_decay, label_smoothing
        Optimisation (AdamW, one-cycle schedule peaking at ``learning_rate``).
    validation_fraction
        Stratified share held out to pick the best epoch (0: keep the last).
    early_stopping
        Stop after this many epochs without a better validation score (None,
        the default: run all epochs; the best epoch's weights are kept either way).
    ema_decay
        Decay per batch of an exponential moving average of the weights; when
        above 0 the averaged weights are the ones validated and returned.
    class_weight
        None (default), ``"balanced"`` (inverse class frequency), a mapping
        ``label → weight`` or an array in sorted label order.
    augment
        Overrides of :data:`AUGMENT_DEFAULTS` (``jitter``, ``scale``, ``mask``,
        ``shift``); ``{"jitter": 0, "scale": 0, "mask": 0, "shift": 0}`` turns it off.
    hidden_size, num_layers, bidirectional, dropout, conv_channels, conv_kernel, conv_layers, members
        Architecture (see :class:`~eolab.crop._lstm_net.CropNet`).
    teachers, distill_weight, temperature
        Knowledge distillation: with ``teachers`` > 0 an ensemble of that many
        networks is trained first (same split, normalisation and options), then
        the returned network learns from it: its loss is ``1 - distill_weight``
        times the label loss plus ``distill_weight`` times ``temperature²`` times
        the Kullback-Leibler divergence of its class probabilities from the
        ensemble's, both softened by ``temperature`` (Hinton et al. 2015). The
        returned network has the architecture given, so inference costs the
        same; training costs about ``teachers + 1.3`` times as much.
    device
        ``"cpu"``, ``"cuda"`` or ``"auto"`` (CUDA when available).
    progress
        Show a tqdm progress bar over epochs.

    Returns
    -------
    CropClassifier
        With the training options and per-epoch history in ``.training``.

    Raises
    ------
    ModelError
        ``X`` is not 2-D/3-D float data, ``y`` does not match it or is not
        integer, fewer than two classes, or no finite value at all.
    """
    x = np.asarray(X, dtype=np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3 or 0 in x.shape:
        raise ModelError(f"X must be (samples, time, bands), got shape {x.shape}")
    yy = np.asarray(y)
    if yy.ndim != 1 or yy.size != x.shape[0]:
        raise ModelError(f"y must hold one label per sample ({x.shape[0]}), got shape {yy.shape}")
    if not np.issubdtype(yy.dtype, np.integer):
        if np.issubdtype(yy.dtype, np.floating) and np.all(yy == np.round(yy)):
            yy = yy.astype(np.int64)
        else:
            raise ModelError(f"y must be integer class labels, got dtype {yy.dtype}")
    if not np.isfinite(x).any():
        raise ModelError("X has no finite value")
    if np.isinf(x).any():
        raise ModelError("X holds infinite values; mark missing observations with NaN")
    labels, y_idx = np.unique(yy, return_inverse=True)
    if labels.size < 2:
        raise ModelError(f"need at least two classes to train, got {labels.tolist()}")
    if epochs < 1 or batch_size < 2:
        raise ModelError("epochs must be >= 1 and batch_size >= 2")
    if not 0 <= ema_decay < 1:
        raise ModelError(f"ema_decay must be in [0, 1), got {ema_decay}")
    if not 0 <= validation_fraction < 1:
        raise ModelError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    names = tuple(bands) if bands is not None else tuple(f"band{i}" for i in range(x.shape[2]))
    if len(names) != x.shape[2]:
        raise ModelError(f"{len(names)} band names for {x.shape[2]} bands")
    aug = dict(AUGMENT_DEFAULTS)
    if augment:
        unknown = set(augment) - set(aug)
        if unknown:
            raise ModelError(f"unknown augmentation option(s) {sorted(unknown)}; use "
                             f"{sorted(aug)}")
        aug.update(augment)
    try:
        kernels = kernel_sizes(conv_kernel)
    except (ValueError, TypeError) as err:
        raise ModelError(str(err)) from None
    arch = {"hidden_size": int(hidden_size), "num_layers": int(num_layers),
            "bidirectional": bool(bidirectional), "dropout": float(dropout),
            "conv_channels": int(conv_channels), "conv_kernel": kernels,
            "conv_layers": int(conv_layers), "difference": bool(difference),
            "conv_pool": bool(conv_pool), "members": int(members)}
    dev = resolve_device(device)
    options: dict[str, Any] = {
        "seed": seed, "epochs": epochs, "batch_size": batch_size, "lr": learning_rate,
        "weight_decay": weight_decay, "label_smoothing": label_smoothing,
        "val_fraction": validation_fraction, "patience": early_stopping,
        "ema_decay": float(ema_decay)}
    weights = _class_weights(class_weight, y_idx, labels)
    if teachers < 0 or not 0 <= distill_weight <= 1 or not temperature > 0:
        raise ModelError(f"teachers must be >= 0, distill_weight in [0, 1] and temperature "
                         f"> 0; got {teachers}, {distill_weight}, {temperature}")
    y64 = y_idx.astype(np.int64)
    teacher = None
    if teachers:
        # the same split, normalisation and options: an ensemble of `teachers` networks
        # first, then the returned network trained to match it as well as the labels
        teacher = train_net(x, y64, labels.size, arch={**arch, "members": int(teachers)},
                            class_weight=weights, aug=aug, device=dev, progress=progress,
                            **options).net.eval()
    result = train_net(x, y64, labels.size, arch=arch, class_weight=weights, aug=aug,
                       device=dev, progress=progress, teacher=teacher,
                       distill_weight=float(distill_weight), temperature=float(temperature),
                       **options)
    if teachers:
        options.update(teachers=int(teachers), distill_weight=float(distill_weight),
                       temperature=float(temperature))
    net = result.net.to("cpu")
    training = {**options, "augment": aug, "class_weight": None if weights is None
                else weights.tolist(), "device": str(dev), "n_samples": int(x.shape[0]),
                "best_epoch": result.best_epoch, "history": result.history}
    return CropClassifier(net, labels, names, x.shape[1], arch, training)
