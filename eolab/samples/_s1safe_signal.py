"""The simulated signal of an IW SLC pair: backscatter, speckle, coherence, TOPS ramp, offsets.

Model (S1_NOTES section 7, made target-referenced so that coregistration by
geometry with deramp -> resample -> reramp recovers it exactly):

* A white circular-Gaussian scatterer field ``w`` per date on the swath grid
  (lines counted from the first burst, so overlapping bursts share it), band
  limited to :data:`BAND` of the range sampling rate.
* Burst ``k`` of date 1: ``s1 = A_sigma sqrt(sigma0_1) e^{-j phi_k} LPF_az(w1 e^{+j phi_k})``
  (the azimuth low pass, :data:`BAND` of the PRF, acts on the deramped
  signal: the ramped data sweep the TOPS Doppler band).
* Burst ``k`` of date 2, pixel (l2, p2) seeing ground point G, which date 1
  sees at (l1, p1): ``s2 = A_sigma sqrt(sigma0_2) [gamma u1(l1, p1) e^{-j 4 pi (R2 - R1)/lambda}
  + sqrt(1 - gamma^2) u2]`` where ``u1`` is the unit date-1 burst at the
  fractional position (deramped, windowed-sinc interpolated, reramped with the
  date-1 ramp at that position) and ``u2`` an independent unit field built
  like date 1's from ``w2``. R2 - R1 follows from the range offset.
"""

from __future__ import annotations

import math

import numpy as np

from eolab.s1.geometry import SPEED_OF_LIGHT, ground_to_radar, radar_to_ground
from eolab.samples._s1safe_swath import (
    BURST_CYCLE_LINES,
    WAVELENGTH,
    Ground,
    Swath,
    bilinear,
    nodes,
)

#: VV sigma0 (dB) per land-cover class of the optical scene (code 0: outside the scene).
SIGMA0_DB = {0: -12.0, 1: -23.0, 2: -4.0, 3: -7.5, 4: -10.0, 5: -12.0, 6: -14.0}
FLOOD_SIGMA0_DB = -23.0  #: open flood water on date 2
#: True 12-day coherence per land-cover class; flooded pixels (date 2) have FLOOD_COHERENCE.
COHERENCE = {0: 0.3, 1: 0.1, 2: 0.8, 3: 0.3, 4: 0.3, 5: 0.3, 6: 0.6}
FLOOD_COHERENCE = 0.0
FLOODED = 7  #: class code in the radar truth: flooded on date 2
BAND = 0.8  #: signal bandwidth / sampling rate, azimuth and range
_TAPS = 12
_BETA = 4.0
MARGIN = 16  #: extra lines/samples around each burst for the interpolator
INVALID_LINES = 20  #: zero lines at each burst edge (firstValidSample = -1)
INVALID_SAMPLES = 8  #: zero samples at each range edge
_STEP_L, _STEP_P = 16, 32  #: node spacing of the geolocation/offset maps
_H_REF = 200.0  #: second height for the linear height correction


def _lowpass(a: np.ndarray, axis: int) -> np.ndarray:
    spec = np.fft.fft(a, axis=axis)
    f = np.fft.fftfreq(a.shape[axis])
    shape = [1, 1]
    shape[axis] = -1
    spec *= (np.abs(f) <= BAND / 2).reshape(shape)
    return np.fft.ifft(spec, axis=axis) / math.sqrt(BAND)


def white_field(rng: np.random.Generator, lines: int, samples: int) -> np.ndarray:
    """Unit circular-Gaussian field, range band-limited, with MARGIN on every side."""
    shape = (lines + 2 * MARGIN, samples + 2 * MARGIN)
    w = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    w *= math.sqrt(0.5)
    return _lowpass(w, 1)


def baseband(sw: Swath, k: int, w: np.ndarray) -> np.ndarray:
    """Deramped unit field of burst ``k`` (with MARGIN): LPF_az(w e^{+j phi_k})."""
    lpb = sw.lines_per_burst
    r0 = k * BURST_CYCLE_LINES
    block = w[r0 : r0 + lpb + 2 * MARGIN]
    lines = np.arange(-MARGIN, lpb + MARGIN, dtype=np.float64)
    pixels = np.arange(-MARGIN, sw.samples + MARGIN, dtype=np.float64)
    phi = sw.phase(k, lines[:, None], pixels[None, :])
    return _lowpass(block * np.exp(1j * phi), 0)


def _kernel_table(bins: int = 2048) -> np.ndarray:
    """Kaiser-windowed sinc taps for fractional positions ``i / bins`` (rows), ``_TAPS`` columns."""
    frac = np.arange(bins + 1) / bins
    t = (np.arange(_TAPS) - _TAPS // 2 + 1)[None, :] - frac[:, None]
    win = np.i0(_BETA * np.sqrt(np.clip(1 - (t / (_TAPS / 2)) ** 2, 0, None))) / np.i0(_BETA)
    return np.asarray(np.sinc(t) * win)


_KERNEL = _kernel_table()
_OFFS = np.arange(_TAPS) - _TAPS // 2 + 1


def _resample(field: np.ndarray, pos: np.ndarray, axis: int) -> np.ndarray:
    """Windowed-sinc values of ``field`` at fractional indices ``pos`` along ``axis``."""
    base = np.floor(pos).astype(np.int64)
    row = np.rint((pos - base) * (_KERNEL.shape[0] - 1)).astype(np.int64)
    out = np.zeros(pos.shape, np.complex64)
    for i, o in enumerate(_OFFS):
        idx = np.clip(base + o, 0, field.shape[axis] - 1)
        out += np.take_along_axis(field, idx, axis=axis) * _KERNEL[row, i].astype(np.float32)
    return out


def interpolate(field: np.ndarray, lines: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """Separable windowed-sinc interpolation of a MARGIN-padded field at (lines, pixels) (2-D).

    Azimuth first, for every input column at the line position of the output
    pixel in that column (the line position varies little over a few
    samples), then range. Fractional positions are quantised to 1/2048.
    """
    nx = lines.shape[1]
    near = np.clip(np.arange(field.shape[1]) - MARGIN, 0, nx - 1)
    az = _resample(field.astype(np.complex64), lines[:, near] + MARGIN, 0)
    return _resample(az, pixels + MARGIN, 1)


def classify(ground: Ground, sw: Swath, k: int, date: int) -> dict[str, np.ndarray]:
    """Per-pixel ground truth of burst ``k``: class, flood, height, sigma0 and coherence."""
    lpb, ns = sw.lines_per_burst, sw.samples
    nl, npx = nodes(lpb, _STEP_L), nodes(ns, _STEP_P)
    ll, pp = np.meshgrid(nl, npx, indexing="ij")
    t, tau = sw.grid(k).time(ll), sw.tau(pp)
    xy = []
    for href in (0.0, _H_REF):
        g = radar_to_ground(sw.orbit, t, tau, href)
        xy.append(ground.to_utm.transform(g.longitude, g.latitude))
    lines, pixels = np.arange(lpb, dtype=np.float64), np.arange(ns, dtype=np.float64)
    x0 = bilinear(nl, npx, np.asarray(xy[0][0]), lines, pixels)
    y0 = bilinear(nl, npx, np.asarray(xy[0][1]), lines, pixels)
    dx = (bilinear(nl, npx, np.asarray(xy[1][0]), lines, pixels) - x0) / _H_REF
    dy = (bilinear(nl, npx, np.asarray(xy[1][1]), lines, pixels) - y0) / _H_REF
    h = np.full(x0.shape, ground.mean_height)
    for _ in range(3):
        h = ground.height(x0 + dx * h, y0 + dy * h)
    x, y = x0 + dx * h, y0 + dy * h
    row, col, inside = ground.index(x, y)
    scene = ground.scene
    cls = np.where(inside, scene.landcover[row, col], 0).astype(np.uint8)
    flood = inside & scene.flood[row, col] & (date == 2)
    s0 = np.array([SIGMA0_DB[c] for c in range(7)])[cls]
    gam = np.array([COHERENCE[c] for c in range(7)])[cls]
    s0 = np.where(flood, FLOOD_SIGMA0_DB, s0)
    gam = np.where(flood, FLOOD_COHERENCE, gam)
    truth_cls = np.where(inside & scene.flood[row, col], FLOODED, cls).astype(np.uint8)
    return {
        "class": truth_cls,
        "flood": flood,
        "height": h,
        "sigma0": 10 ** (s0 / 10),
        "coherence": gam,
    }


def offsets(
    ground: Ground, src: Swath, dst: Swath, k: int, step: tuple[int, int] = (_STEP_L, _STEP_P)
) -> dict[str, np.ndarray]:
    """Where ``dst`` burst k sees the ground seen by ``src`` burst k, on a node grid of ``src``.

    Returns node coordinates, the ground height, and ``dst`` (line, pixel) at
    the DEM height and at heights 0 and _H_REF (for a linear height correction).
    """
    nl, npx = nodes(src.lines_per_burst, step[0]), nodes(src.samples, step[1])
    ll, pp = np.meshgrid(nl, npx, indexing="ij")
    g, _, _ = ground.locate(src, k, ll, pp)
    out: dict[str, np.ndarray] = {"lines": nl, "pixels": npx, "height": g.height}
    grid = dst.grid(k)
    t_src = src.grid(k).time(ll)
    for name, h in (("dem", g.height), ("h0", 0.0), ("h1", _H_REF)):
        if name == "dem":
            lon, lat = g.longitude, g.latitude
        else:
            gh = radar_to_ground(src.orbit, t_src, src.tau(pp), h)
            lon, lat = gh.longitude, gh.latitude
        guess = t_src + (dst.burst_start(k) - src.burst_start(k))
        rc = ground_to_radar(dst.orbit, lon, lat, h, grid=grid, t_guess=guess)
        assert rc.line is not None and rc.pixel is not None
        out[f"line_{name}"], out[f"pixel_{name}"] = rc.line, rc.pixel
    return out


def secondary_burst(
    sw1: Swath,
    sw2: Swath,
    k: int,
    b1: np.ndarray,
    back: dict[str, np.ndarray],
    truth2: dict[str, np.ndarray],
    u2: np.ndarray,
) -> np.ndarray:
    """Unit-calibrated (sigma0-scaled, no A) date-2 burst from date-1's baseband ``b1``."""
    lpb, ns = sw2.lines_per_burst, sw2.samples
    lines, pixels = np.arange(lpb, dtype=np.float64), np.arange(ns, dtype=np.float64)
    nl, npx = back["lines"], back["pixels"]
    h = truth2["height"]
    l_0 = bilinear(nl, npx, back["line_h0"], lines, pixels)
    p_0 = bilinear(nl, npx, back["pixel_h0"], lines, pixels)
    l1 = l_0 + (bilinear(nl, npx, back["line_h1"], lines, pixels) - l_0) * (h / _H_REF)
    p1 = p_0 + (bilinear(nl, npx, back["pixel_h1"], lines, pixels) - p_0) * (h / _H_REF)
    u1 = interpolate(b1, l1, p1) * np.exp(-1j * sw1.phase(k, l1, p1))
    dr = (sw2.tau(pixels)[None, :] - sw1.tau(p1)) * SPEED_OF_LIGHT / 2
    u1 *= np.exp(-1j * 4 * np.pi / WAVELENGTH * dr)
    gam = truth2["coherence"]
    s = gam * u1 + np.sqrt(1 - gam**2) * u2
    return np.asarray(s * np.sqrt(truth2["sigma0"]))


def quantise(
    s: np.ndarray, amplitude: np.ndarray, first_valid: np.ndarray, last_valid: np.ndarray
) -> np.ndarray:
    """Scale by the calibration amplitude, round to CInt16 I/Q, zero the invalid area."""
    z = s * amplitude[None, :]
    re = np.clip(np.rint(z.real), -32767, 32767).astype(np.int16)
    im = np.clip(np.rint(z.imag), -32767, 32767).astype(np.int16)
    out = np.empty(s.shape, np.complex64)
    out.real, out.imag = re, im
    cols = np.arange(s.shape[1])
    valid = (
        (first_valid[:, None] >= 0)
        & (cols[None, :] >= first_valid[:, None])
        & (cols[None, :] <= last_valid[:, None])
    )
    out[~valid] = 0
    return out


def valid_samples(lpb: int, ns: int) -> tuple[np.ndarray, np.ndarray]:
    """firstValidSample/lastValidSample per burst line (-1 for the invalid edge lines)."""
    first = np.full(lpb, INVALID_SAMPLES, np.int64)
    last = np.full(lpb, ns - 1 - INVALID_SAMPLES, np.int64)
    first[:INVALID_LINES] = first[lpb - INVALID_LINES :] = -1
    last[:INVALID_LINES] = last[lpb - INVALID_LINES :] = -1
    return first, last


def rng_for(seed: int, date: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), 0x51, date])


def amplitude_lut(incidence_deg: np.ndarray, a_beta: float) -> np.ndarray:
    """sigma-nought calibration amplitude A_sigma = A_beta / sqrt(sin(incidence))."""
    return np.asarray(a_beta / np.sqrt(np.sin(np.radians(incidence_deg))))
