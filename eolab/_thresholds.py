"""Automatic two-class thresholds of float data (private; public in :mod:`eolab.change`).

Every method works on one fine histogram of the finite values
(:data:`_FINE_BINS` bins), so a threshold costs one pass over the data
whatever its size, and dask arrays are never loaded twice:

``otsu``
    Otsu (1979): the split that maximises the between-class variance. Fast
    and parameter-free, but biased towards the middle of the range when one
    class is much smaller or much wider than the other: with change on 1–3 %
    of a scene it cuts into the tail of the no-change peak or above the
    change peak.
``ki``
    Kittler & Illingworth (1986) minimum error thresholding: the split that
    minimises ``J(T) = P1 ln σ1 + P2 ln σ2 − P1 ln P1 − P2 ln P2``, i.e. the
    best fit of two Gaussians of their own size and width. It copes with
    unbalanced classes. Made robust on float data: each class variance
    includes the bin width (Sheppard's ``w²/12``, so a class squeezed into one
    bin is not infinitely good), splits leaving fewer than
    :data:`_MIN_CLASS` values on a side are not considered, and a flat
    minimum is split in its middle.
``em``
    Bruzzone & Prieto (2000): a two-Gaussian mixture fitted by
    expectation-maximisation (on the histogram, weighted by its counts),
    started from the Kittler–Illingworth split; the threshold is the Bayes
    decision boundary, where both weighted densities are equal, between the
    two means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from eolab.errors import ThresholdError

__all__ = [
    "THRESHOLD_METHODS",
    "ThresholdError",
    "ThresholdResult",
    "auto_threshold",
    "resolve_threshold",
    "threshold_histogram",
]

#: Names of the automatic threshold methods.
THRESHOLD_METHODS: tuple[str, ...] = ("otsu", "ki", "em")
_FINE_BINS = 4096
_MIN_CLASS = 5          # fewest values a class may hold (KI, EM start)
_MIN_VALUES = 10        # fewest finite values a threshold is computed from
_MAX_SAMPLES = 4_000_000


@dataclass(frozen=True)
class ThresholdResult:
    """A threshold with the histogram it was drawn on, for plotting.

    ``counts`` and ``edges`` are as :func:`numpy.histogram` returns them (over
    the range of the values used); ``threshold`` separates class 0
    (``value < threshold``) from class 1; ``params`` holds what the method
    fitted (e.g. the EM mixture: weights, means, standard deviations).
    """

    counts: np.ndarray
    edges: np.ndarray
    threshold: float
    method: str
    n_values: int
    params: dict[str, Any] = field(default_factory=dict)


def _finite_sample(values: Any, max_samples: int) -> np.ndarray:
    """Finite float64 values of ``values``; dask arrays are strided to ``max_samples``."""
    data = getattr(values, "data", values)  # xarray → numpy or dask
    if hasattr(data, "dask"):
        import dask.array as darr

        arr = darr.asarray(data)
        if arr.size > max_samples and arr.ndim > 0:
            stride = max(1, math.ceil((arr.size / max_samples) ** (1.0 / arr.ndim)))
            arr = arr[(slice(None, None, stride),) * arr.ndim]
        data = arr.compute()
    flat = np.asarray(data, dtype=np.float64).ravel()
    return flat[np.isfinite(flat)]


def _fine_histogram(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Histogram over [min, max]; far outliers (beyond 10× the 99.9 % span) go in the last bin."""
    lo, hi = float(x.min()), float(x.max())
    q = float(np.quantile(x, 0.999))
    cap = q + 10.0 * (q - lo)
    if hi > cap > lo:
        x, hi = np.minimum(x, cap), cap
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    return counts.astype(np.float64), edges


def _plateau_middle(score: np.ndarray, best: float, tol: float) -> int:
    """Index in the middle of the first run of near-best scores."""
    near = np.abs(score - best) <= tol
    first = int(np.argmax(near))
    gaps = np.flatnonzero(~near[first:])
    last = first + (int(gaps[0]) - 1 if gaps.size else near.size - first - 1)
    return (first + last) // 2


def _otsu(counts: np.ndarray, edges: np.ndarray) -> float:
    centres = 0.5 * (edges[:-1] + edges[1:])
    p = counts / counts.sum()
    w0 = np.cumsum(p)[:-1]
    m0 = np.cumsum(p * centres)[:-1]
    mt = float((p * centres).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 - m0) ** 2 / (w0 * (1.0 - w0))
    between[~np.isfinite(between) | (w0 <= 0) | (w0 >= 1)] = -np.inf
    best = float(between.max())
    k = _plateau_middle(between, best, 1e-12 * max(best, 1e-300))
    return float(edges[k + 1])


def _class_stats(counts: np.ndarray, edges: np.ndarray
                 ) -> tuple[np.ndarray, ...]:
    """Cumulative size, mean and variance of the lower/upper class for each split."""
    centres = 0.5 * (edges[:-1] + edges[1:])
    width = float(edges[1] - edges[0])
    n = np.cumsum(counts)[:-1]
    s1 = np.cumsum(counts * centres)[:-1]
    s2 = np.cumsum(counts * centres**2)[:-1]
    total, t1, t2 = counts.sum(), (counts * centres).sum(), (counts * centres**2).sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        mu1, mu2 = s1 / n, (t1 - s1) / (total - n)
        var1 = np.maximum(s2 / n - mu1**2, 0.0) + width**2 / 12.0
        var2 = np.maximum((t2 - s2) / (total - n) - mu2**2, 0.0) + width**2 / 12.0
    return n, total - n, mu1, mu2, var1, var2


def _ki(counts: np.ndarray, edges: np.ndarray) -> float:
    n1, n2, _, _, var1, var2 = _class_stats(counts, edges)
    total = counts.sum()
    p1, p2 = n1 / total, n2 / total
    ok = (n1 >= _MIN_CLASS) & (n2 >= _MIN_CLASS)
    if not ok.any():
        raise ThresholdError("the values cannot be split into two classes of at least "
                             f"{_MIN_CLASS} values each; give a fixed threshold instead")
    with np.errstate(divide="ignore", invalid="ignore"):
        crit = (p1 * 0.5 * np.log(var1) + p2 * 0.5 * np.log(var2)
                - p1 * np.log(p1) - p2 * np.log(p2))
    crit = np.where(ok & np.isfinite(crit), crit, np.inf)
    best = float(crit.min())
    k = _plateau_middle(-crit, -best, 1e-12 * max(abs(best), 1.0))
    return float(edges[k + 1])


def _log_gauss(x: np.ndarray, mu: float, var: float) -> np.ndarray:
    return -0.5 * (x - mu) ** 2 / var - 0.5 * math.log(2.0 * math.pi * var)


def _gauss(x: np.ndarray, mu: float, var: float) -> np.ndarray:
    return np.exp(_log_gauss(x, mu, var))


def _em(counts: np.ndarray, edges: np.ndarray, *, max_iter: int = 500, tol: float = 1e-9
        ) -> tuple[float, dict[str, Any]]:
    """Two-Gaussian EM on the histogram, started from the KI split; Bayes boundary."""
    centres = 0.5 * (edges[:-1] + edges[1:])
    width = float(edges[1] - edges[0])
    start = _ki(counts, edges)
    k = int(np.clip(np.searchsorted(edges, start) - 1, 0, counts.size - 2))
    n1, n2, mu1, mu2, var1, var2 = (a[k] for a in _class_stats(counts, edges))
    total = counts.sum()
    pi = np.array([n1 / total, n2 / total])
    mu, var = np.array([mu1, mu2]), np.array([var1, var2])
    floor = width**2 / 12.0
    keep = counts > 0
    x, w = centres[keep], counts[keep]
    loglik = -np.inf
    for _ in range(max_iter):
        dens = np.stack([pi[j] * _gauss(x, mu[j], var[j]) for j in (0, 1)])
        mix = dens.sum(axis=0)
        mix = np.where(mix > 0, mix, 1e-300)
        resp = dens / mix
        new = float((w * np.log(mix)).sum())
        nk = (resp * w).sum(axis=1)
        if (nk < _MIN_CLASS).any():
            break
        pi = nk / total
        mu = (resp * w * x).sum(axis=1) / nk
        var = np.maximum((resp * w * (x - mu[:, None]) ** 2).sum(axis=1) / nk, floor)
        if abs(new - loglik) <= tol * abs(new):
            break
        loglik = new
    order = np.argsort(mu)
    pi, mu, var = pi[order], mu[order], var[order]
    params = {"weights": pi.tolist(), "means": mu.tolist(), "stds": np.sqrt(var).tolist()}
    grid = np.linspace(mu[0], mu[1], 8193)
    ratio = (math.log(pi[1]) + _log_gauss(grid, mu[1], var[1])
             - math.log(pi[0]) - _log_gauss(grid, mu[0], var[0]))
    change = np.flatnonzero(np.diff(np.sign(ratio)) != 0)
    if not np.isfinite(ratio).all() or mu[1] - mu[0] <= width or change.size == 0:
        params["fallback"] = "ki"
        return start, params
    i = int(change[0])
    r0, r1 = ratio[i], ratio[i + 1]
    t = grid[i] + (grid[i + 1] - grid[i]) * (r0 / (r0 - r1) if r1 != r0 else 0.5)
    return float(t), params


def _check_method(method: str) -> str:
    name = str(method).strip().lower()
    if name not in THRESHOLD_METHODS:
        raise ThresholdError(f"unknown threshold method {method!r}; choose one of "
                             f"{', '.join(THRESHOLD_METHODS)} (or give a fixed threshold)")
    return name


def _threshold(x: np.ndarray, method: str) -> tuple[float, dict[str, Any]]:
    if x.size < _MIN_VALUES:
        raise ThresholdError(f"only {x.size} finite values: an automatic threshold needs at "
                             f"least {_MIN_VALUES} (is the area all cloud or no data?)")
    if float(x.min()) == float(x.max()):
        raise ThresholdError(f"all {x.size} finite values equal {x.min():g}: nothing to split; "
                             "give a fixed threshold instead")
    counts, edges = _fine_histogram(x, _FINE_BINS)
    if method == "otsu":
        return _otsu(counts, edges), {}
    if method == "ki":
        return _ki(counts, edges), {}
    return _em(counts, edges)


def auto_threshold(values: Any, *, method: str = "otsu", max_samples: int = _MAX_SAMPLES
                   ) -> float:
    """Automatic threshold splitting ``values`` into two classes (NaNs ignored).

    Parameters
    ----------
    values
        numpy, dask or xarray array of any shape (e.g. a CVA magnitude).
    method
        ``"otsu"``, ``"ki"`` (Kittler–Illingworth minimum error) or ``"em"``
        (Gaussian mixture by EM, Bayes boundary); see :mod:`eolab.change`.
    max_samples
        Dask arrays larger than this are read once on a regular stride to
        about this many values; numpy arrays are used whole.

    Returns
    -------
    float
        The threshold: class 1 is ``values >= threshold``.

    Raises
    ------
    ThresholdError
        Unknown method (the message lists the choices), fewer than ten finite
        values, or constant values.
    """
    name = _check_method(method)
    return _threshold(_finite_sample(values, max_samples), name)[0]


def resolve_threshold(values: Any, *, method: str, threshold: float | None, what: str,
                      minimum: float | None = None) -> tuple[float, str]:
    """``(threshold, how)``: a fixed ``threshold`` checked, else :func:`auto_threshold` of ``values``.

    ``how`` is the method name or ``"fixed"``; ``what`` names the threshold in
    error messages (e.g. ``"water"``); ``minimum`` is the lowest allowed fixed value.
    """
    if threshold is not None:
        value = float(threshold)
        if not np.isfinite(value) or (minimum is not None and value < minimum):
            bound = "" if minimum is None else f" >= {minimum:g}"
            raise ThresholdError(f"the {what} threshold must be a finite value{bound}, "
                                 f"got {threshold!r}")
        return value, "fixed"
    name = _check_method(method)
    try:
        return auto_threshold(values, method=name), name
    except ThresholdError as exc:
        raise ThresholdError(f"no {what} threshold: {exc}") from exc


def threshold_histogram(values: Any, *, method: str = "otsu", bins: int = 256,
                        max_samples: int = _MAX_SAMPLES) -> ThresholdResult:
    """The threshold of :func:`auto_threshold` with a ``bins``-bin histogram for plotting.

    The threshold itself is always computed on the fine histogram, so it does
    not depend on ``bins``.
    """
    name = _check_method(method)
    if int(bins) < 2:
        raise ValueError(f"bins must be at least 2, got {bins!r}")
    x = _finite_sample(values, max_samples)
    t, params = _threshold(x, name)
    counts, edges = np.histogram(x, bins=int(bins), range=(float(x.min()), float(x.max())))
    return ThresholdResult(counts=counts, edges=edges, threshold=t, method=name,
                           n_values=int(x.size), params=params)
