"""Enhanced spectral diversity: the residual azimuth shift from burst overlaps."""

from __future__ import annotations

from typing import Any

import numpy as np

from eolab.errors import RasterError

__all__ = ["esd_shift"]


def esd_shift(ref_k: Any, sec_k: Any, ref_next: Any, sec_next: Any, *,
              doppler_difference: Any, azimuth_time_interval: float,
              min_coherence: float = 0.3) -> float:
    """Azimuth correction (lines) from the overlap of bursts k and k+1.

    ``ref_k``/``sec_k`` are the overlap area as seen by burst k (its last
    lines) and ``ref_next``/``sec_next`` the same ground in burst k+1 (its
    first lines), the secondaries already resampled with deramp/reramp. The
    double difference (ref_k·sec_k*)·(ref_next·sec_next*)* has the phase
    −2π·Δf·Δt·ε for an azimuth error ε in the offsets used, with Δf the
    Doppler difference of the two looks (≈ k_t × burst spacing in s, ≈ 4.7–
    4.9 kHz in IW1; a scalar or one value per range column). Per column the
    phase of the summed double difference is scaled to lines; the median of
    the columns whose double-difference coherence is ≥ ``min_coherence`` is
    returned as the correction to **add** to the azimuth offsets. Unambiguous
    for |ε| < 1/(2·Δf·Δt) ≈ 0.05 line: coregister geometrically first.
    """
    arrays = [np.asarray(getattr(x, "values", x)) for x in (ref_k, sec_k, ref_next, sec_next)]
    if len({a.shape for a in arrays}) != 1 or arrays[0].ndim != 2:
        raise RasterError("the four overlap arrays must be 2-D and of one shape; got "
                          f"{[a.shape for a in arrays]}")
    a, b, c, d = (x.astype(np.complex128) for x in arrays)
    dd = (a * np.conj(b)) * np.conj(c * np.conj(d))
    per_col = dd.sum(axis=0)
    weight = np.abs(dd).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        coh = np.abs(per_col) / weight
    delta_f = np.broadcast_to(np.asarray(doppler_difference, np.float64), per_col.shape)
    shift = np.angle(per_col) / (2.0 * np.pi * delta_f * float(azimuth_time_interval))
    good = np.isfinite(shift) & (coh >= min_coherence)
    if not good.any():
        raise RasterError(f"no overlap column reaches a double-difference coherence of "
                          f"{min_coherence}; ESD cannot be estimated on this overlap")
    return float(np.median(shift[good]))
