"""Sub-pixel shifts between stacks of complex patches by amplitude cross-correlation."""

from __future__ import annotations

import numpy as np

__all__ = ["patch_offsets"]


def _oversample2(p: np.ndarray) -> np.ndarray:
    """×2 band-limited oversampling of (n, h, w) baseband patches by FFT zero padding."""
    n, h, w = p.shape
    spec = np.fft.fftshift(np.fft.fft2(p), axes=(1, 2))
    big = np.zeros((n, 2 * h, 2 * w), np.complex128)
    big[:, h // 2:h // 2 + h, w // 2:w // 2 + w] = spec
    return np.asarray(np.fft.ifft2(np.fft.ifftshift(big, axes=(1, 2))) * 4.0)


def _upsampled_dft(spec: np.ndarray, centre: np.ndarray, size: int, upsample: int) -> np.ndarray:
    """Cross-correlation at lags centre + (k − size//2)/upsample, k < size (per patch, 2-D)."""
    _, h, w = spec.shape
    offs = (np.arange(size) - size // 2) / upsample
    fy = np.fft.fftfreq(h)  # cycles per sample
    fx = np.fft.fftfreq(w)
    ty = centre[:, 0, None] + offs[None, :]  # (n, size)
    tx = centre[:, 1, None] + offs[None, :]
    ey = np.exp(2j * np.pi * ty[:, :, None] * fy[None, None, :])  # (n, size, h)
    ex = np.exp(2j * np.pi * fx[None, :, None] * tx[:, None, :])  # (n, w, size)
    out: np.ndarray = ey @ spec @ ex
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
    spec = np.conj(np.fft.fft2(amp_r)) * np.fft.fft2(amp_s)
    corr = np.fft.ifft2(spec).real
    n, h, w = corr.shape
    flat = corr.reshape(n, -1).argmax(axis=1)
    iy, ix = np.unravel_index(flat, (h, w))
    centre = np.stack([np.where(iy > h // 2, iy - h, iy), np.where(ix > w // 2, ix - w, ix)],
                      axis=1).astype(np.float64)
    size = 2 * upsample + 1  # ±1 oversampled lag around the integer peak
    fine = _upsampled_dft(spec, centre, size, upsample).real / (h * w)
    k = fine.reshape(n, -1).argmax(axis=1)
    ky, kx = np.unravel_index(k, (size, size))
    rows = np.arange(n)
    dy = centre[:, 0] + (ky - size // 2 + _vertex(fine, rows, ky, kx, 0)) / upsample
    dx = centre[:, 1] + (kx - size // 2 + _vertex(fine, rows, ky, kx, 1)) / upsample
    norm = np.sqrt((amp_r**2).sum(axis=(1, 2)) * (amp_s**2).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        quality = np.nan_to_num(fine.reshape(n, -1).max(axis=1) / norm)
    return dy / 2.0, dx / 2.0, quality
