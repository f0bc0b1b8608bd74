"""TOPS deramping and burst coregistration on synthetic speckle with known offsets."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import xarray as xr
from scipy.ndimage import map_coordinates

from eolab.errors import RasterError
from eolab.s1.coherence import coherence
from eolab.s1.coregister import esd_shift, refine_offsets, resample_burst
from eolab.s1.tops import TopsRamp, deramp, deramp_phase, doppler_centroid_by_block, reramp

DT = 2.0555563e-3  # azimuth time interval (486.5 Hz)
TAU0 = 5.34e-3
FS = 64.345238e6


def _ramp(lines: int) -> TopsRamp:
    """IW1-like burst metadata: k_a ≈ −2321 Hz/s, k_s ≈ 7598 Hz/s, k_t ≈ 1778 Hz/s."""
    return TopsRamp(steering_rate=1.590368784, radar_frequency=5.405e9, velocity=7591.0,
                    fm_rate=(-2321.0, 1.2e5, 0.0), fm_rate_t0=TAU0,
                    dc=(-7.0, 3.0e3), dc_t0=TAU0, slant_range_time=TAU0,
                    range_sampling_rate=FS, azimuth_time_interval=DT, lines_per_burst=lines)


def _scene(shape: tuple[int, int], factor: int, seed: int) -> np.ndarray:
    """Periodic band-limited speckle (0.67 azimuth, 0.88 range of the band) on a grid
    ``factor`` times finer; the burst samples are ``scene[::factor, ::factor]``."""
    rng = np.random.default_rng(seed)
    big = (shape[0] * factor, shape[1] * factor)
    fa = np.abs(np.fft.fftfreq(big[0]))[:, None] * factor
    fr = np.abs(np.fft.fftfreq(big[1]))[None, :] * factor
    spec = rng.standard_normal(big) + 1j * rng.standard_normal(big)
    spec *= (fa < 0.67 / 2) & (fr < 0.88 / 2)
    out = np.fft.ifft2(spec)
    return out / np.sqrt(np.mean(np.abs(out[::factor, ::factor]) ** 2))


def _at(scene: np.ndarray, factor: int, line: np.ndarray, pixel: np.ndarray) -> np.ndarray:
    """The band-limited scene at fractional burst coordinates (quintic spline, ×factor)."""
    coords = [line * factor, pixel * factor]
    return (map_coordinates(scene.real, coords, order=5, mode="grid-wrap")
            + 1j * map_coordinates(scene.imag, coords, order=5, mode="grid-wrap"))


def _fields(line: np.ndarray, pixel: np.ndarray, shape: tuple[int, int]) -> tuple[Any, Any]:
    """True offsets (lines, pixels), 0.1–0.6 and varying across the burst."""
    u, v = line / shape[0], pixel / shape[1]
    return 0.1 + 0.3 * u + 0.2 * v * v, 0.6 - 0.3 * u * v - 0.2 * v


def _global_coherence(a: np.ndarray, b: np.ndarray) -> float:
    return float(abs(np.vdot(b, a)) / np.sqrt(np.vdot(a, a).real * np.vdot(b, b).real))


# ---------------------------------------------------------------- TOPS ramp


def test_deramp__centres_the_azimuth_spectrum() -> None:
    lines, samples = 600, 64
    ramp = _ramp(lines)
    assert float(ramp.doppler_rate(0)) == pytest.approx(1778, abs=5)
    base = _scene((lines, samples), 1, seed=1)
    phase = deramp_phase(ramp, shape=(lines, samples))
    assert phase.dtype == np.float64 and phase.shape == (lines, samples)
    burst = base * np.exp(-1j * phase)  # what the instrument delivers
    raw = doppler_centroid_by_block(burst, block=50, azimuth_time_interval=DT)
    flat = doppler_centroid_by_block(deramp(burst, ramp), block=50, azimuth_time_interval=DT)
    assert np.ptp(raw) > 200          # the aliased sweep wanders over the band
    assert np.abs(flat).max() < 10    # centred at 0 Hz along the whole burst
    np.testing.assert_allclose(reramp(deramp(burst, phase), phase), burst, atol=1e-5)
    da = xr.DataArray(burst, dims=("azimuth_time", "slant_range_time"), attrs={"swath": "IW1"})
    assert deramp(da, ramp).attrs == {"swath": "IW1"}


def test_deramp__shift_experiment_of_the_notes() -> None:
    """0.3-line shift: plain FFT shift ≈ 0.05 coherence; deramp → shift → reramp ≈ 1."""
    lines, samples, shift = 512, 32, 0.3
    ramp = _ramp(lines)
    base = _scene((lines, samples), 1, seed=2)
    line = np.arange(lines)[:, None]
    pixel = np.arange(samples)[None, :]
    burst = base * np.exp(-1j * ramp(line, pixel))
    f = np.fft.fftfreq(lines)[:, None]
    shifted_base = np.fft.ifft(np.fft.fft(base, axis=0) * np.exp(2j * np.pi * f * shift), axis=0)
    truth = shifted_base * np.exp(-1j * ramp(line + shift, pixel))

    plain = np.fft.ifft(np.fft.fft(burst, axis=0) * np.exp(2j * np.pi * f * shift), axis=0)
    flat = deramp(burst, ramp)
    moved = np.fft.ifft(np.fft.fft(flat, axis=0) * np.exp(2j * np.pi * f * shift), axis=0)
    good = reramp(moved, ramp(line + shift, pixel))
    assert _global_coherence(plain, truth) < 0.15
    assert _global_coherence(good, truth) > 0.999

    inner = slice(8, -8)  # the sinc kernel sees the burst edges
    sinc = resample_burst(burst, shift, 0.0, phase=ramp)
    naive = resample_burst(burst, shift, 0.0)
    assert _global_coherence(sinc[inner], truth[inner]) > 0.99
    assert _global_coherence(naive[inner], truth[inner]) < 0.3


def test_tops_ramp__on_columns_matches_direct_evaluation() -> None:
    ramp = _ramp(1500)
    rng = np.random.default_rng(0)
    line = rng.uniform(0, 1500, (20, 3000))
    offset = rng.uniform(-3, 3, (20, 3000))
    direct = ramp(line, np.arange(3000) + offset)
    np.testing.assert_allclose(ramp.on_columns(line, offset), direct, rtol=0, atol=1e-6)


def test_tops_ramp__from_attrs_and_errors() -> None:
    attrs = {"azimuth_steering_rate": 1.590368784, "radar_frequency_hz": 5.405e9,
             "azimuth_fm_rate_polynomial": [-2321.0, 1.2e5, 0.0], "azimuth_fm_rate_t0": TAU0,
             "dc_polynomial": [-7.0, 3.0e3], "dc_t0": TAU0, "slant_range_time": TAU0,
             "range_sampling_rate": FS, "azimuth_time_interval": DT, "lines_per_burst": 600}
    assert TopsRamp.from_attrs(attrs, velocity=7591.0) == _ramp(600)
    with pytest.raises(RasterError, match="dc_polynomial"):
        TopsRamp.from_attrs({k: v for k, v in attrs.items() if k != "dc_polynomial"},
                            velocity=7591.0)
    with pytest.raises(RasterError):
        deramp(np.ones((4, 4)), np.zeros((4, 4)))  # not complex


# ---------------------------------------------------------------- coregistration


def _pair(shape: tuple[int, int], tops: bool, seed: int = 7, extra: float = 0.0
          ) -> dict[str, Any]:
    """Reference and secondary bursts of one band-limited scene, with known offsets.

    The reference sample (l, p) lies in the secondary at (l + az, p + rg)
    (:func:`_fields` + ``extra``); the secondary is generated at its own grid by
    inverting that mapping. With ``tops`` both carry the TOPS ramp.
    """
    factor = 4
    scene = _scene(shape, factor, seed)
    line = np.arange(shape[0], dtype=float)[:, None] * np.ones(shape)
    pixel = np.arange(shape[1], dtype=float)[None, :] * np.ones(shape)
    y, x = line.copy(), pixel.copy()  # reference coordinates of each secondary sample
    for _ in range(8):
        az, rg = _fields(y, x, shape)
        y, x = line - az - extra, pixel - rg - extra
    ref = scene[::factor, ::factor].copy()
    sec = _at(scene, factor, y, x)
    az, rg = _fields(line, pixel, shape)
    az, rg = az + extra, rg + extra
    ramp = _ramp(shape[0]) if tops else None
    truth = ref.copy()  # the secondary's continuous signal at (l + az, p + rg)
    if ramp is not None:
        ref = ref * np.exp(-1j * ramp(line, pixel))
        sec = sec * np.exp(-1j * ramp(line, pixel))
        truth = truth * np.exp(-1j * ramp(line + az, pixel + rg))
    return {"ref": ref.astype(np.complex64), "sec": sec.astype(np.complex64), "az": az,
            "rg": rg, "truth": truth, "ramp": ramp}


@pytest.mark.parametrize(("tops", "patches_only"), [(False, False), (True, False),
                                                    (True, True)])
def test_refine_and_resample__recovers_offsets(tops: bool, patches_only: bool) -> None:
    shape = (256, 512)
    p = _pair(shape, tops)
    ramp = p["ramp"]
    inner = (slice(8, -8), slice(8, -8))
    geo_az, geo_rg = p["az"] + 0.2, p["rg"] + 0.2  # geometry with a 0.2 px error
    if patches_only:  # only the correlation patches are resampled
        fit = refine_offsets(p["ref"], p["sec"], phase=ramp, offsets=(geo_az, geo_rg),
                             sec_phase=ramp)
    else:
        first = resample_burst(p["sec"], geo_az, geo_rg, phase=ramp)
        fit = refine_offsets(p["ref"], first, phase=ramp)
    assert fit.used.sum() >= 30 and max(fit.rms) < 0.02
    daz, drg = fit.evaluate()
    az, rg = geo_az + daz, geo_rg + drg
    assert np.abs(az - p["az"]).max() < 0.05
    assert np.abs(rg - p["rg"]).max() < 0.05
    final = resample_burst(p["sec"], az, rg, phase=ramp)
    assert _global_coherence(final[inner], p["truth"][inner]) > 0.95
    coh = coherence(p["ref"], final)
    assert float(coh[inner].mean()) > 0.95


@pytest.mark.parametrize("extra", [0.0, 0.7, -3.4])
def test_resample_burst__tops_needs_deramping(extra: float) -> None:
    """Offsets 0.1–0.6 (one integer shift), 0.8–1.3 and −3.3…−2.8 (two per chunk)."""
    p = _pair((256, 512), tops=True, extra=extra)
    inner = (slice(8, -8), slice(8, -8))
    good = resample_burst(p["sec"], p["az"], p["rg"], phase=p["ramp"])
    bad = resample_burst(p["sec"], p["az"], p["rg"])
    assert _global_coherence(good[inner], p["truth"][inner]) > 0.99
    if extra == 0.0:  # (near-integer shifts hardly interpolate, so only here)
        assert _global_coherence(bad[inner], p["truth"][inner]) < 0.6
    # a phase array on the secondary grid works as well as the ramp itself
    grid = deramp_phase(p["ramp"], shape=(256, 512))
    by_array = resample_burst(p["sec"], p["az"], p["rg"], phase=grid)
    assert _global_coherence(by_array[inner], p["truth"][inner]) > 0.99


def test_resample_burst__edges_invalid_and_dataarray() -> None:
    rng = np.random.default_rng(0)
    data = (rng.standard_normal((40, 60)) + 1j * rng.standard_normal((40, 60))).astype(np.complex64)
    data[:, :5] = 0  # invalid near range
    burst = xr.DataArray(data, dims=("azimuth_time", "slant_range_time"), attrs={"swath": "IW1"})
    out = resample_burst(burst, 2.0, -1.0)
    assert isinstance(out, xr.DataArray) and out.attrs == {"swath": "IW1"}
    assert out.dtype == np.complex64
    np.testing.assert_allclose(out.values[:38, 6:], data[2:, 5:-1], atol=1e-5)  # integer shift
    assert (out.values[38:] == 0).all() and (out.values[:, :6] == 0).all()
    with pytest.raises(RasterError, match="broadcast"):
        resample_burst(data, np.zeros((3, 3)), 0.0)
    with pytest.raises(RasterError, match="taps"):
        resample_burst(data, 0.0, 0.0, taps=5)


def test_refine_offsets__constant_shift_and_errors() -> None:
    shape = (128, 256)
    scene = _scene(shape, 1, seed=9)
    f_az = np.fft.fftfreq(shape[0])[:, None]
    f_rg = np.fft.fftfreq(shape[1])[None, :]
    sec = np.fft.ifft2(np.fft.fft2(scene) * np.exp(-2j * np.pi * (f_az * 0.35 + f_rg * -0.8)))
    fit = refine_offsets(scene, sec, grid=(3, 5), degree=0)  # sec(l + 0.35, p − 0.8) = ref
    assert np.median(fit.az) == pytest.approx(0.35, abs=0.02)
    assert np.median(fit.rg) == pytest.approx(-0.8, abs=0.02)
    assert fit.evaluate((2, 2))[0].shape == (2, 2)
    with pytest.raises(RasterError, match="patches correlate"):
        refine_offsets(scene, np.zeros_like(scene) + 1e-3, grid=(2, 2))
    with pytest.raises(RasterError, match="degree"):
        refine_offsets(scene, sec, degree=3)


@pytest.mark.parametrize("error", [0.01, -0.02])
def test_esd_shift__recovers_a_small_azimuth_error(error: float) -> None:
    """Overlap of bursts k (its lines 1400…) and k+1 (its lines 0…), secondary late by a0."""
    lines, samples, spacing, a0 = 128, 64, 1400, 0.35
    ramp = _ramp(1500)
    scene = _scene((lines, samples), 1, seed=11)
    f = np.fft.fftfreq(lines)[:, None]

    def shifted(s: float) -> np.ndarray:  # scene(l + s), exact for the periodic scene
        return np.fft.ifft(np.fft.fft(scene, axis=0) * np.exp(2j * np.pi * f * s), axis=0)

    line = np.arange(lines)[:, None]
    pixel = np.arange(samples)[None, :]
    looks = []
    for first in (spacing, 0):  # burst k's last lines, then burst k+1's first lines
        ref = scene * np.exp(-1j * ramp(line + first, pixel))
        sec = shifted(-a0) * np.exp(-1j * ramp(line + first - a0, pixel))

        def sec_phase(ln: Any, px: Any, first: int = first) -> Any:
            return ramp(ln + first - a0, px)

        out = resample_burst(sec, a0 + error, 0.0, phase=sec_phase)
        looks += [ref[10:-10], out[10:-10]]
    delta_f = ramp.doppler_rate(np.arange(samples)) * spacing * DT
    corr = esd_shift(*looks, doppler_difference=delta_f, azimuth_time_interval=DT)
    assert corr == pytest.approx(-error, abs=1e-3)
    with pytest.raises(RasterError, match="one shape"):
        esd_shift(looks[0], looks[1][:5], looks[2], looks[3], doppler_difference=4800.0,
                  azimuth_time_interval=DT)


def test_resample_burst__rejects_nan_offsets() -> None:
    data = np.ones((8, 8), np.complex64)
    field = np.zeros((8, 8))
    field[2, 3] = np.nan
    with pytest.raises(RasterError, match="NaN"):
        resample_burst(data, field, 0.0)


# ---------------------------------------------------------------- fast kernel vs reference


def _reference_resample(sec: np.ndarray, az: np.ndarray, rg: np.ndarray,
                        phase: Any = None, taps: int = 8) -> np.ndarray:
    """resample_burst written straightforwardly: per-sample gathers in complex128, the phase
    evaluated directly, no tiles (the same kernel table and 1/1024 fractions)."""
    from eolab.s1._resample import TABLE, kernel

    nl, ns = sec.shape
    table = kernel(taps).astype(np.float64)
    half = taps // 2 - 1
    line = np.arange(nl, dtype=np.float64)[:, None] * np.ones((1, ns))
    pixel = np.arange(ns, dtype=np.float64)[None, :] * np.ones((nl, 1))
    src = sec.astype(np.complex128)
    if phase is not None:
        src = src * np.exp(1j * phase(line, pixel))

    def interp(values: np.ndarray, coord: np.ndarray, axis: int) -> np.ndarray:
        n = values.shape[axis]
        base = np.floor(coord).astype(int)
        frac = np.rint((coord - base) * TABLE).astype(int)
        out = np.zeros(coord.shape, np.complex128)
        rows = np.arange(values.shape[0])[:, None] * np.ones((1, values.shape[1]), int)
        cols = np.arange(values.shape[1])[None, :] * np.ones((values.shape[0], 1), int)

        def at(idx: np.ndarray) -> np.ndarray:
            ok = (idx >= 0) & (idx < n)
            i = np.clip(idx, 0, n - 1)
            got = values[i, cols] if axis == 0 else values[rows, i]
            return np.where(ok, got, 0)

        for k in range(taps):
            out += at(base - half + k) * table[k, frac]
        out[at(np.rint(coord).astype(int)) == 0] = 0  # nearest sample invalid or outside
        return out

    ranged = interp(src, pixel + rg, 1)
    out = interp(ranged, line + az, 0)
    if phase is not None:
        out = out * np.exp(-1j * phase(line + az, pixel + rg))
    return out


@pytest.mark.parametrize("kind", ["ramp", "callable", "none"])
def test_resample_burst__tiled_kernel_equals_straightforward_reference(kind: str) -> None:
    """Several tiles, offsets crossing integers inside tiles (−1.3…1.4 lines, 2.7…−0.7
    pixels), invalid samples: the fast path equals the reference to float32 rounding."""
    shape = (150, 1100)
    ramp = _ramp(shape[0])
    phase = {"ramp": ramp, "callable": lambda ln, px: ramp(ln, px), "none": None}[kind]
    rng = np.random.default_rng(3)
    sec = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
    sec[:, :23] = 0
    sec[:7] = 0
    sec[60:64, 500:530] = 0
    u = np.arange(shape[0])[:, None] / shape[0]
    v = np.arange(shape[1])[None, :] / shape[1]
    az = (-1.3 + 2.5 * u + 0.2 * v).astype(np.float32)
    rg = (2.7 - 3.4 * v + 0.2 * u * v).astype(np.float32)
    fast = resample_burst(sec, az, rg, phase=phase)
    ref = _reference_resample(sec, az.astype(np.float64), rg.astype(np.float64), ramp
                              if phase is not None else None)
    assert fast.dtype == np.complex64
    np.testing.assert_array_equal(fast == 0, ref == 0)
    assert (ref == 0).sum() > 23 * shape[0]  # the masks are exercised
    np.testing.assert_allclose(fast, ref, rtol=0, atol=2e-5 * np.abs(ref).max())


def test_resample_burst__rejects_rough_offsets() -> None:
    data = np.ones((64, 64), np.complex64)
    rough = np.zeros((64, 64), np.float32)
    rough[10, 10] = 40.0  # a jump of 40 lines inside one tile
    with pytest.raises(RasterError, match="smooth"):
        resample_burst(data, rough, 0.0)


def test_offset_fit__evaluate_float32() -> None:
    shape = (128, 256)
    scene = _scene(shape, 1, seed=9)
    f_az = np.fft.fftfreq(shape[0])[:, None]
    sec = np.fft.ifft2(np.fft.fft2(scene) * np.exp(-2j * np.pi * f_az * 0.35))
    fit = refine_offsets(scene, sec, grid=(3, 5), degree=1)
    az64, rg64 = fit.evaluate()
    az32, rg32 = fit.evaluate(dtype=np.float32)
    assert az64.dtype == np.float64 and az32.dtype == np.float32 and az32.shape == shape
    np.testing.assert_allclose(az32, az64, atol=1e-6)
    assert float(np.median(az32)) == pytest.approx(0.35, abs=0.02)


def test_patch_offsets__half_spectrum_dft_equals_full_matrix_dft() -> None:
    """The upsampled correlation from rfft2 half spectra equals the real part of the plain
    per-patch matrix DFT of the full spectrum (Nyquist row, column and corner included)."""
    from eolab.s1._correlate import _upsampled_dft

    rng = np.random.default_rng(5)
    for h, w in ((16, 16), (16, 15), (15, 16)):
        amp = rng.standard_normal((3, h, w))
        full = np.fft.fft2(amp)
        centre = rng.uniform(-3, 3, (3, 2))
        size, up = 7, 4
        fast = _upsampled_dft(np.fft.rfft2(amp), centre, size, up, w)
        offs = (np.arange(size) - size // 2) / up
        fy, fx = np.fft.fftfreq(h), np.fft.fftfreq(w)
        for n in range(3):
            ey = np.exp(2j * np.pi * (centre[n, 0] + offs)[:, None] * fy[None, :])
            ex = np.exp(2j * np.pi * fx[:, None] * (centre[n, 1] + offs)[None, :])
            np.testing.assert_allclose(fast[n], (ey @ full[n] @ ex).real, atol=1e-9)
