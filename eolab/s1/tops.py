"""TOPS azimuth phase of a Sentinel-1 IW burst: deramping and reramping.

A TOPS burst's azimuth frequency sweeps ≈ 5 kHz across the burst, about ten
times the 486.5 Hz azimuth sampling rate, so the samples are aliased and no
interpolator may be applied to them directly. Multiplying by e^{+jφ}
(deramp) moves the spectrum to 0 Hz along the whole burst; after resampling,
multiplying by e^{−jφ} evaluated at the resampled coordinates (reramp)
restores it (S1_NOTES §3; SARPY, XSAR, EOPF ATBD §6.2). With

* k_ψ the azimuth steering rate (deg/s → rad/s), v_s the platform speed at
  burst mid, λ = c / radar frequency, k_s = 2·v_s·k_ψ/λ,
* τ = τ0 + pixel/f_s the two-way slant-range time,
* k_a(τ) = Σ c_i (τ − t0_fm)^i the azimuth FM rate, f_ηc(τ) = Σ d_i (τ − t0_dc)^i
  the Doppler centroid (the FM-rate and DC entries nearest the burst mid),
* k_t = k_a·k_s / (k_a − k_s) the Doppler rate of the burst,
* η = (line − N/2)·Δt the azimuth time from the burst mid (N lines per burst),
* η_ref(τ) = η_c(τ) − η_c(τ0) with η_c = −f_ηc/k_a,

the phase is φ = −π·k_t·(η − η_ref)² − 2π·f_ηc·(η − η_ref). The data carry
e^{−jφ}: their instantaneous azimuth frequency is f_ηc + k_t·(η − η_ref),
increasing along the burst for k_t > 0 (≈ 1.7–1.8 kHz/s in IW1).
⚠ The sign follows SARPY/XSAR and is self-consistent with the simulator;
it has not been checked here on a real burst spectrum (the notes' check:
after deramping the spectrum is centred at 0 Hz along the whole burst).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from eolab.errors import RasterError

__all__ = ["SPEED_OF_LIGHT", "TopsRamp", "deramp", "deramp_phase", "doppler_centroid_by_block",
           "phasor", "reramp"]

SPEED_OF_LIGHT = 299_792_458.0


def _poly(coeffs: Sequence[float], x: Any) -> np.ndarray:
    out = np.zeros_like(np.asarray(x, np.float64))
    for c in reversed(tuple(coeffs)):
        out = out * x + c
    return out


@dataclass(frozen=True)
class TopsRamp:
    """Burst metadata that defines the TOPS azimuth phase φ(line, pixel).

    Attributes
    ----------
    steering_rate : float
        Azimuth steering rate k_ψ in **deg/s** (annotation
        ``azimuthSteeringRate``; IW1 1.590368784).
    radar_frequency : float
        Carrier frequency in Hz (5.405e9).
    velocity : float
        Platform speed |v| in m/s at burst mid (from the orbit).
    fm_rate, fm_rate_t0 : tuple of float, float
        Azimuth FM-rate polynomial (Hz/s, in powers of τ − t0) and its t0 (s).
    dc, dc_t0 : tuple of float, float
        Data Doppler-centroid polynomial (Hz) and its t0 (s).
    slant_range_time : float
        Two-way slant-range time τ0 of pixel 0 (s).
    range_sampling_rate : float
        f_s in Hz (64.345238e6).
    azimuth_time_interval : float
        Δt in s (2.0555563e-3).
    lines_per_burst : int
        N; η = 0 at line N/2.
    reference_pixel : float
        Pixel whose η_c is the reference of η_ref (default 0, the first
        sample; SNAP uses the first *valid* sample).
    """

    steering_rate: float
    radar_frequency: float
    velocity: float
    fm_rate: tuple[float, ...]
    fm_rate_t0: float
    dc: tuple[float, ...]
    dc_t0: float
    slant_range_time: float
    range_sampling_rate: float
    azimuth_time_interval: float
    lines_per_burst: int
    reference_pixel: float = 0.0

    def __post_init__(self) -> None:
        if self.velocity <= 0 or self.radar_frequency <= 0 or self.azimuth_time_interval <= 0:
            raise RasterError("TopsRamp needs positive velocity, radar_frequency and "
                              "azimuth_time_interval (SI units: m/s, Hz, s)")
        if not self.fm_rate or not self.dc:
            raise RasterError("TopsRamp needs the azimuth FM-rate and Doppler-centroid "
                              "polynomials (annotation azimuthFmRateList / dcEstimateList)")

    @classmethod
    def from_attrs(cls, attrs: Mapping[str, Any], *, velocity: float) -> TopsRamp:
        """Build from a burst's attrs as written by :func:`eolab.io.sentinel1.open_slc`."""
        try:
            return cls(
                steering_rate=float(attrs["azimuth_steering_rate"]),
                radar_frequency=float(attrs["radar_frequency_hz"]),
                velocity=float(velocity),
                fm_rate=tuple(float(v) for v in attrs["azimuth_fm_rate_polynomial"]),
                fm_rate_t0=float(attrs["azimuth_fm_rate_t0"]),
                dc=tuple(float(v) for v in attrs["dc_polynomial"]),
                dc_t0=float(attrs["dc_t0"]),
                slant_range_time=float(attrs["slant_range_time"]),
                range_sampling_rate=float(attrs["range_sampling_rate"]),
                azimuth_time_interval=float(attrs["azimuth_time_interval"]),
                lines_per_burst=int(attrs["lines_per_burst"]),
            )
        except KeyError as exc:
            raise RasterError(f"burst attrs lack {exc.args[0]!r}, needed for the TOPS ramp; "
                              "open the burst with its FM-rate and Doppler annotation") from None

    @property
    def wavelength(self) -> float:
        return SPEED_OF_LIGHT / self.radar_frequency

    def range_time(self, pixel: Any) -> np.ndarray:
        return self.slant_range_time + np.asarray(pixel, np.float64) / self.range_sampling_rate

    def doppler_rate(self, pixel: Any) -> np.ndarray:
        """k_t(τ) = k_a·k_s/(k_a − k_s) in Hz/s at the given pixels."""
        return np.asarray(self._range_terms(pixel)[0])

    def _range_terms(self, pixel: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """k_t, f_ηc and η_ref at the given pixels (the range-dependent part of φ)."""
        tau = self.range_time(pixel)
        ka = _poly(self.fm_rate, tau - self.fm_rate_t0)
        fdc = _poly(self.dc, tau - self.dc_t0)
        ks = 2.0 * self.velocity * np.deg2rad(self.steering_rate) / self.wavelength
        tau_ref = float(self.range_time(self.reference_pixel))
        eta_c0 = -float(_poly(self.dc, np.float64(tau_ref - self.dc_t0))
                        / _poly(self.fm_rate, np.float64(tau_ref - self.fm_rate_t0)))
        return ka * ks / (ka - ks), fdc, -fdc / ka - eta_c0

    def _phase(self, line: Any, kt: Any, fdc: Any, eta_ref: Any) -> np.ndarray:
        eta = (np.asarray(line, np.float64) - self.lines_per_burst / 2.0) * (
            self.azimuth_time_interval)
        d = eta - eta_ref
        return np.asarray(-np.pi * d * (kt * d + 2.0 * fdc), dtype=np.float64)

    def __call__(self, line: Any, pixel: Any) -> np.ndarray:
        """φ(line, pixel) in radians (float64, broadcast of line and pixel)."""
        return self._phase(line, *self._range_terms(pixel))


    def on_columns(self, line: Any, pixel_offset: np.ndarray) -> np.ndarray:
        """φ(line, j + pixel_offset[:, j]) for the columns j of a 2-D offset field.

        Faster than ``self(line, pixel)`` on 2-D pixels: the range-dependent
        terms (k_t, f_ηc, η_ref) are computed per column and interpolated
        linearly over the (sub-pixel to few-pixel) offsets — they vary by
        < 1e-9 relative over a pixel.
        """
        off = np.asarray(pixel_offset, np.float64)
        cols = np.arange(off.shape[-1] + 1, dtype=np.float64)
        terms = [q[:-1] + (q[1:] - q[:-1]) * off for q in self._range_terms(cols)]
        return self._phase(line, *terms)


def phasor(phase: Any, sign: float = 1.0) -> np.ndarray:
    """e^{j·sign·φ} as complex64, via float32 cos/sin after reducing φ to ±π in float64.

    (TOPS phases reach ~10⁴ rad; the reduction keeps float32 accurate to ~3e-7.)
    """
    phi = np.asarray(phase, np.float64)
    reduced = (phi - (2.0 * np.pi) * np.rint(phi * (0.5 / np.pi))).astype(np.float32)
    out = np.empty(reduced.shape, np.complex64)
    np.cos(reduced, out=out.real)
    np.sin(reduced, out=out.imag)
    if sign < 0:
        np.negative(out.imag, out=out.imag)
    return out


def deramp_phase(ramp: TopsRamp, line: Any = None, pixel: Any = None, *,
                 shape: tuple[int, int] | None = None) -> np.ndarray:
    """The TOPS phase φ (radians, float64) at (line, pixel).

    Give broadcastable ``line`` and ``pixel`` coordinates (fractional ones
    allowed: reramping after resampling needs them), or ``shape=(lines,
    samples)`` for the integer grid of a burst.
    """
    if shape is not None:
        line = np.arange(shape[0], dtype=np.float64)[:, None]
        pixel = np.arange(shape[1], dtype=np.float64)[None, :]
    if line is None or pixel is None:
        raise RasterError("deramp_phase needs line and pixel coordinates, or shape=")
    return ramp(line, pixel)


def _phase_like(data: Any, phase: Any) -> np.ndarray:
    if isinstance(phase, TopsRamp):
        return deramp_phase(phase, shape=(np.shape(data)[0], np.shape(data)[1]))
    ph = phase.values if isinstance(phase, xr.DataArray) else np.asarray(phase, np.float64)
    try:
        np.broadcast_shapes(ph.shape, np.shape(data))
    except ValueError:
        raise RasterError(f"phase of shape {ph.shape} does not match the burst "
                          f"{np.shape(data)}") from None
    return ph


def _rotate(burst: Any, phase: Any, sign: float) -> Any:
    values = burst.values if isinstance(burst, xr.DataArray) else np.asarray(burst)
    if values.ndim != 2 or not np.iscomplexobj(values):
        raise RasterError(f"a burst must be a 2-D complex array; got {values.dtype}, "
                          f"shape {values.shape}")
    ph = _phase_like(values, phase)
    out = values.astype(np.complex64) * phasor(ph, sign)
    if isinstance(burst, xr.DataArray):
        return burst.copy(data=out)
    return out


def deramp(burst: Any, phase: Any) -> Any:
    """burst·e^{+jφ}: the azimuth spectrum moved to 0 Hz (complex64, DataArray kept).

    ``phase`` is φ on the burst grid (array or DataArray) or a :class:`TopsRamp`.
    """
    return _rotate(burst, phase, +1.0)


def reramp(burst: Any, phase: Any) -> Any:
    """burst·e^{−jφ}, with φ evaluated at the (resampled) coordinates of the samples."""
    return _rotate(burst, phase, -1.0)


def doppler_centroid_by_block(burst: Any, *, block: int = 50,
                              azimuth_time_interval: float = 2.0555563e-3) -> np.ndarray:
    """Azimuth spectral centroid (Hz) of consecutive blocks of lines.

    The correlation Doppler estimator arg(Σ s[l+1]·s*[l]) / (2πΔt), over all
    pixels of each ``block`` lines: after a correct deramp every block reads
    ≈ 0 Hz; on raw TOPS data the values sweep (aliased) across ±1/(2Δt).
    """
    values = np.asarray(burst.values if isinstance(burst, xr.DataArray) else burst)
    lag = values[1:] * np.conj(values[:-1])
    starts = range(0, lag.shape[0] - block + 1, block)
    acc = np.array([lag[s:s + block].sum() for s in starts])
    return np.asarray(np.angle(acc) / (2.0 * np.pi * azimuth_time_interval))
