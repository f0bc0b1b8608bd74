"""Coherence estimator, its bias (Touzi et al. 1999) and TOPS deramping."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from eolab.errors import RasterError
from eolab.s1.coherence import coherence, debias_coherence, expected_coherence, flat_earth_phase


def _pair(gamma: float, shape: tuple[int, int], seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Circular-Gaussian pair with coherence gamma (independent samples)."""
    rng = np.random.default_rng(seed)
    a, b = ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / np.sqrt(2)
            for _ in range(2))
    return a.astype(np.complex64), (gamma * a + np.sqrt(1 - gamma**2) * b).astype(np.complex64)


def _brute(s1: np.ndarray, s2: np.ndarray, window: tuple[int, int],
           phase: np.ndarray | None = None) -> np.ndarray:
    """Direct float64 box sums over the valid samples of a truncated window."""
    s1 = s1.astype(np.complex128)
    s2 = s2.astype(np.complex128)
    if phase is not None:
        s2 = s2 * np.exp(1j * phase)
    valid = np.isfinite(s1) & np.isfinite(s2) & (s1 != 0) & (s2 != 0)
    s1, s2 = np.where(valid, s1, 0), np.where(valid, s2, 0)
    wa, wr = window
    out = np.full(s1.shape, np.nan)
    for i in range(s1.shape[0]):
        for j in range(s1.shape[1]):
            if not valid[i, j]:
                continue
            rows = slice(max(i - wa // 2, 0), i - wa // 2 + wa)
            cols = slice(max(j - wr // 2, 0), j - wr // 2 + wr)
            a, b = s1[rows, cols], s2[rows, cols]
            out[i, j] = abs((a * b.conj()).sum()) / np.sqrt((abs(a)**2).sum() * (abs(b)**2).sum())
    return out


@pytest.mark.parametrize("gamma", [0.0, 0.3, 0.6, 0.9])
def test_coherence__bias_matches_touzi(gamma: float) -> None:
    s1, s2 = _pair(gamma, (240, 1200), seed=int(gamma * 10))
    coh = coherence(s1, s2, window=(3, 10))
    interior = coh.values[1:-1, 5:-4]
    assert abs(interior.mean() - expected_coherence(gamma, 30)) < 0.02
    # the estimator is biased: for gamma = 0 the mean is far from 0
    if gamma == 0.0:
        assert interior.mean() > 0.15


def test_expected_coherence__notes_table() -> None:
    table = {4: [.457, .481, .553, .666, .817, .904], 9: [.300, .344, .461, .623, .806, .901],
             16: [.223, .284, .432, .612, .803, .901], 30: [.162, .244, .416, .606, .801, .900],
             100: [.089, .212, .404, .602, .800, .900]}
    gammas = np.array([0, 0.2, 0.4, 0.6, 0.8, 0.9])
    for looks, row in table.items():
        np.testing.assert_allclose(expected_coherence(gammas, looks), row, atol=6e-4)
    assert expected_coherence(0.0, 30) == pytest.approx(np.sqrt(np.pi / 120), rel=0.02)
    assert expected_coherence(1.0, 30) == 1.0
    with pytest.raises(RasterError):
        expected_coherence(1.2, 30)


def test_debias_coherence__inverts_expected() -> None:
    gammas = np.array([0.2, 0.4, 0.6, 0.8, 0.95])
    biased = expected_coherence(gammas, 30)
    np.testing.assert_allclose(debias_coherence(biased, 30), gammas, atol=2e-3)
    assert debias_coherence(0.1, 30) == 0.0  # below the zero-coherence bias
    da = xr.DataArray(np.array([np.nan, 0.5], np.float32), dims="x", name="coherence")
    res = debias_coherence(da, 30)
    assert np.isnan(res.values[0]) and res.dtype == np.float32


@pytest.mark.parametrize("window", [(3, 10), (5, 5), (1, 4), (2, 7)])
def test_coherence__matches_direct_sums(window: tuple[int, int]) -> None:
    s1, s2 = _pair(0.5, (13, 29), seed=3)
    s1 = s1 * 50  # DN-like scale
    got = coherence(s1, s2, window=window).values
    np.testing.assert_allclose(got, _brute(s1, s2, window), atol=2e-6)


def test_coherence__zeros_and_nan_are_masked() -> None:
    s1, s2 = _pair(0.7, (20, 40), seed=4)
    s1[:, :6] = 0          # invalid near-range strip (as in a SAFE burst)
    s2[12:, 30:] = 0
    s1[5, 20] = np.nan
    got = coherence(s1, s2).values
    want = _brute(s1, s2, (3, 10))
    np.testing.assert_allclose(got, want, atol=2e-6)
    assert np.isnan(got[:, :6]).all() and np.isnan(got[12:, 30:]).all() and np.isnan(got[5, 20])
    assert np.isfinite(got[:, 6]).all()
    assert np.nanmax(got) <= 1.0 and np.nanmin(got) >= 0.0


def test_coherence__flat_phase_removed() -> None:
    s1, _ = _pair(1.0, (30, 200), seed=5)
    ramp = 0.6 * np.arange(200)  # radians: a flat-earth fringe along range
    s2 = s1 * np.exp(-1j * ramp).astype(np.complex64)   # s1·s2* = e^{+jφ}
    raw = coherence(s1, s2)
    flat = coherence(s1, s2, flat_phase=ramp)
    assert float(raw.mean()) < 0.5
    assert float(flat.min()) > 0.999
    assert flat.attrs["flat_phase_removed"] == 1 and raw.attrs["flat_phase_removed"] == 0
    # the same phase given as a 2-D field, and through the geometric helper
    field = flat_earth_phase(np.broadcast_to(np.arange(200) * 0.5, (30, 200)),
                             range_pixel_spacing=0.6 * 0.0555 / (4 * np.pi * 0.5),
                             wavelength=0.0555)
    np.testing.assert_allclose(field[0], ramp)
    np.testing.assert_allclose(coherence(s1, s2, flat_phase=field), flat, atol=1e-6)
    np.testing.assert_allclose(coherence(s1, s2, flat_phase=field, window=(2, 5)),
                               _brute(s1, s2, (2, 5), field), atol=2e-6)


def test_coherence__dataarray_threads_and_dask() -> None:
    s1, s2 = _pair(0.6, (70, 90), seed=6)
    dims = ("azimuth_time", "slant_range_time")
    coords = {"azimuth_time": np.arange(70) * 2e-3, "slant_range_time": 5e-3 + np.arange(90) / 6e7}
    a = xr.DataArray(s1, dims=dims, coords=coords)
    b = xr.DataArray(s2, dims=dims, coords=coords)
    ref = coherence(a, b, threads=1)
    assert ref.name == "coherence" and ref.dims == dims and ref.dtype == np.float32
    assert ref.attrs["units"] == "1" and ref.attrs["coherence_window"] == [3, 10]
    np.testing.assert_array_equal(ref["slant_range_time"], coords["slant_range_time"])
    np.testing.assert_array_equal(coherence(a, b, threads=2), ref)
    lazy = coherence(a.chunk({"azimuth_time": 25, "slant_range_time": 40}), b.chunk(), threads=1)
    np.testing.assert_allclose(lazy.compute(), ref, atol=1e-6)
    # transposed inputs are put back in (azimuth, range) order by name
    np.testing.assert_array_equal(coherence(a.T, b.T, dims=dims), ref)


def test_coherence__rejects_bad_inputs() -> None:
    s1, s2 = _pair(0.5, (10, 20))
    with pytest.raises(RasterError, match="shape"):
        coherence(s1, s2[:, :10])
    with pytest.raises(RasterError, match="complex"):
        coherence(np.abs(s1), s2)
    with pytest.raises(RasterError, match="window"):
        coherence(s1, s2, window=(0, 10))
    with pytest.raises(RasterError, match="2-D"):
        coherence(s1[0], s2[0])
    with pytest.raises(RasterError, match="broadcast"):
        coherence(s1, s2, flat_phase=np.zeros(7))
