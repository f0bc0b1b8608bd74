"""Sub-pixel shifts between stacks of complex patches by amplitude cross-correlation."""

from __future__ import annotations

import os

import numpy as np
from scipy import fft

__all__ = ["patch_offsets"]

_BATCH = 64  # patches per batch


def _workers() -> int:
    return min(4, os.cpu_count() or 1)


def _oversample2(p: np.ndarray) -> np.ndarray:
    """×2 band-limited oversampling of (n, h, w) baseband patches by FFT zero padding."""
    n, h, w = p.shape
    spec = fft.fft2(p, workers=_workers())
    big = np.zeros((n, 2 * h, 2 * w), np.complex128)
    if h % 2 == 0 and w % 2 == 0:  # the quadrants of the spectrum go to the corners
        a, b = h // 2, w // 2
        big[:, :a, :b] = spec[:, :a, :b]
        big[:, :a, -b:] = spec[:, :a, -b:]
        big[:, -a:, :b] = spec[:, -a:, :b]
        big[:, -a:, -b:] = spec[:, -a:, -b:]
    else:
        big[:, h // 2:h // 2 + h, w // 2:w // 2 + w] = fft.fftshift(spec, axes=(1, 2))
        big = fft.ifftshift(big, axes=(1, 2))
    out = fft.ifft2(big, overwrite_x=True, workers=_workers())
    out *= 4.0
    return np.asarray(out)


def _upsampled_dft(spec: np.ndarray, centre: np.ndarray, size: int, upsample: int,
                   width: int) -> np.ndarray:
    """Cross-correlation at lags centre + (k − size//2)/upsample, k < size (per patch, 2-D).

    The real part of the matrix DFT e^{2πi·ty·fy} · S · e^{2πi·fx·tx} of the
    full spectrum S of every patch (``numpy.fft.fftfreq`` frequencies, so a
    Nyquist row or column sits at −0.5), computed from the half spectrum
    ``spec`` (``rfft2``, last axis ``width // 2 + 1``) of the real
    correlation: 2·Re of the half sum, the zero and Nyquist columns once,
    the Nyquist row split half and half between ±0.5 (which is what the real
    part of the full sum gives) and the Nyquist corner corrected to its
    one-sided term. The per-patch lag centre is factored out of the
    exponentials (e^{2πi(c + o)f} = e^{2πi·c·f}·e^{2πi·o·f}) into the
    spectrum, so each stage is one large matrix product over all patches
    instead of one small product per patch (small BLAS calls run threaded and
    stall under load).
    """
    n, h, w = spec.shape
    offs = (np.arange(size) - size // 2) / upsample
    fy = np.fft.fftfreq(h)  # cycles per sample
    fx = np.fft.rfftfreq(width)
    col_weight = np.full(w, 2.0)
    col_weight[0] = 1.0
    row_weight = np.ones(h)
    corner = None
    if width % 2 == 0:
        col_weight[-1] = 1.0
    if h % 2 == 0:  # duplicate the Nyquist row at +0.5, half weight each
        spec = np.concatenate([spec, spec[:, h // 2:h // 2 + 1]], axis=1)
        fy = np.r_[fy, 0.5]
        row_weight = np.r_[row_weight, 0.5]
        row_weight[h // 2] = 0.5
        if width % 2 == 0:
            corner = spec[:, h // 2, -1].real
    ey = np.exp(2j * np.pi * offs[:, None] * fy[None, :]) * row_weight  # (size, h')
    ex = np.exp(2j * np.pi * fx[:, None] * offs[None, :]) * col_weight[:, None]  # (w, size)
    shifted = spec * np.exp(2j * np.pi * centre[:, 0, None] * fy[None, :])[:, :, None]
    shifted *= np.exp(2j * np.pi * centre[:, 1, None] * fx[None, :])[:, None, :]
    rows = ey @ shifted.transpose(1, 0, 2).reshape(fy.size, n * w)  # (size, n·w)
    rows = rows.reshape(size, n, w).transpose(1, 0, 2).reshape(n * size, w)
    out: np.ndarray = (rows @ ex).real.reshape(n, size, size)
    if corner is not None:  # S_c·cos π(ty + tx) in the full sum, S_c·cos πty·cos πtx here
        sy = np.sin(np.pi * (centre[:, 0, None] + offs[None, :]))
        sx = np.sin(np.pi * (centre[:, 1, None] + offs[None, :]))
        out -= corner[:, None, None] * sy[:, :, None] * sx[:, None, :]
    return out


def _vertex(fine: np.ndarray, rows: np.ndarray, ky: np.ndarray, kx: np.ndarray,
            axis: int) -> np.ndarray:
    """Parabolic vertex (−0.5…0.5) through the peak and its two neighbours along axis."""
    size = fine.shape[1]
    k = ky if axis == 0 else kx
    lo, hi = np.clip(k - 1, 0, size - 1), np.clip(k + 1, 0, size - 1)
    if axis == 0:
        cm, c0, cp = fine[rows, lo, kx], fine[rows, ky, kx], fine[rows, hi, kx]
    else:
        cm, c0, cp = fine[rows, ky, lo], fine[rows, ky, kx], fine[rows, ky, hi]
    den = cm - 2 * c0 + cp
    with np.errstate(invalid="ignore", divide="ignore"):
        step = np.where(den < 0, 0.5 * (cm - cp) / den, 0.0)
    return np.asarray(np.clip(np.nan_to_num(step), -0.5, 0.5))


def patch_offsets(ref: np.ndarray, sec: np.ndarray, *, upsample: int = 16,
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(az, rg, quality) shifts with sec(x + d) ≈ ref(x), for (n, h, w) complex stacks.

    Batches of ``_BATCH`` patches at a time (see :func:`_patch_offsets`), so the
    oversampled spectra stay within a few tens of MB.
    """
    parts = [_patch_offsets(ref[i:i + _BATCH], sec[i:i + _BATCH], upsample=upsample)
             for i in range(0, ref.shape[0], _BATCH)]
    if not parts:
        empty = np.zeros(0)
        return empty, empty.copy(), empty.copy()
    az, rg, quality = (np.concatenate(v) for v in zip(*parts, strict=True))
    return az, rg, quality


def _patch_offsets(ref: np.ndarray, sec: np.ndarray, *, upsample: int = 16,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(az, rg, quality) shifts with sec(x + d) ≈ ref(x), for (n, h, w) complex stacks.

    Patches are oversampled ×2 before detection, mean-removed amplitudes are
    cross-correlated (circularly) by FFT, the integer peak is refined on a
    1/upsample grid of the oversampled lags by a matrix DFT (then a parabola
    through the fine peak), and the
    returned shifts are in samples of the input. ``quality`` is the peak
    normalised by the patch energies (1 = identical amplitudes).
    """
    amp_r = np.abs(_oversample2(ref))
    amp_s = np.abs(_oversample2(sec))
    amp_r -= amp_r.mean(axis=(1, 2), keepdims=True)
    amp_s -= amp_s.mean(axis=(1, 2), keepdims=True)
    n, h, w = amp_r.shape
    spec = np.conj(fft.rfft2(amp_r, workers=_workers()))
    spec *= fft.rfft2(amp_s, workers=_workers())
    corr = fft.irfft2(spec, s=(h, w), workers=_workers())
    flat = corr.reshape(n, -1).argmax(axis=1)
    iy, ix = np.unravel_index(flat, (h, w))
    centre = np.stack([np.where(iy > h // 2, iy - h, iy), np.where(ix > w // 2, ix - w, ix)],
                      axis=1).astype(np.float64)
    size = 2 * upsample + 1  # ±1 oversampled lag around the integer peak
    fine = _upsampled_dft(spec, centre, size, upsample, w) / (h * w)
    k = fine.reshape(n, -1).argmax(axis=1)
    ky, kx = np.unravel_index(k, (size, size))
    rows = np.arange(n)
    dy = centre[:, 0] + (ky - size // 2 + _vertex(fine, rows, ky, kx, 0)) / upsample
    dx = centre[:, 1] + (kx - size // 2 + _vertex(fine, rows, ky, kx, 1)) / upsample
    norm = np.sqrt((amp_r**2).sum(axis=(1, 2)) * (amp_s**2).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        quality = np.nan_to_num(fine.reshape(n, -1).max(axis=1) / norm)
    return dy / 2.0, dx / 2.0, quality
