"""The torch module behind :class:`eolab.crop.model.CropClassifier` (no I/O, no training).

Input ``(batch, time, bands)`` float, NaN where an observation is missing.
The module

1. standardises every band with the mean and standard deviation learned from
   the training data (stored as buffers, saved in the model's JSON config);
2. replaces missing values by 0 (the band mean) and appends one channel that
   says which time steps had a missing band (so "cloudy" is not "average");
3. runs a small 1-D convolution over time (local shape: slopes, peaks), then
   a (bi)directional LSTM over the sequence;
4. pools the LSTM outputs over time (mean and max, so that neither the start
   nor the end of the season dominates as it does with the last hidden state)
   and classifies them with one linear layer.

The architecture follows the LSTM-FCN / ConvLSTM line of time-series
classifiers (Karim et al. 2018; Rußwurm & Körner 2020, BreizhCrops) kept small
enough for fast CPU inference.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

__all__ = ["ARCH_DEFAULTS", "CropNet"]

#: Default architecture of :func:`eolab.crop.train.fit` (the keyword arguments of CropNet).
ARCH_DEFAULTS: dict[str, Any] = {
    "hidden_size": 64,
    "num_layers": 1,
    "bidirectional": False,
    "dropout": 0.2,
    "conv_channels": 64,
    "conv_kernel": 5,
    "conv_layers": 1,
    "members": 1,
}


class _Member(nn.Module):
    """One conv + LSTM + pooling + linear classifier."""

    def __init__(self, n_in: int, n_classes: int, *, hidden_size: int, num_layers: int,
                 bidirectional: bool, dropout: float, conv_channels: int, conv_kernel: int,
                 conv_layers: int) -> None:
        super().__init__()
        if conv_channels > 0 and conv_layers > 0:
            layers: list[nn.Module] = []
            for _ in range(conv_layers):
                layers += [nn.Conv1d(n_in, conv_channels, conv_kernel, padding=conv_kernel // 2),
                           nn.BatchNorm1d(conv_channels), nn.ReLU()]
                n_in = conv_channels
            self.conv: nn.Module | None = nn.Sequential(*layers)
        else:
            self.conv = None
        self.lstm = nn.LSTM(n_in, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0,
                            bidirectional=bidirectional)
        n_out = hidden_size * (2 if bidirectional else 1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * n_out, n_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if self.conv is not None:
            h = self.conv(h.transpose(1, 2)).transpose(1, 2)
        out, _ = self.lstm(h)
        pooled = torch.cat([out.mean(dim=1), out.amax(dim=1)], dim=-1)
        logits: torch.Tensor = self.head(self.dropout(pooled))
        return logits


class CropNet(nn.Module):
    """Conv front-end + LSTM + mean/max pooling over time + linear head, optionally
    an ensemble of ``members`` such networks trained side by side.

    Parameters
    ----------
    n_bands, n_classes
        Input bands and output classes.
    mean, std
        Per-band normalisation, length ``n_bands``.
    hidden_size, num_layers, bidirectional, dropout
        LSTM settings; ``dropout`` also applies before the head.
    conv_channels, conv_kernel, conv_layers
        Width, kernel (odd) and depth of the convolutions before the LSTM; 0
        channels feeds the normalised bands straight into the LSTM.
    members
        Number of independently initialised networks; each is trained on its
        own loss (:meth:`member_logits`), the output is the log of their mean
        class probabilities.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, n_bands: int, n_classes: int, *, mean: torch.Tensor | None = None,
                 std: torch.Tensor | None = None, hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = True, dropout: float = 0.3, conv_channels: int = 64,
                 conv_kernel: int = 5, conv_layers: int = 1, members: int = 1) -> None:
        super().__init__()
        mean = torch.zeros(n_bands) if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        std = torch.ones(n_bands) if std is None else torch.as_tensor(std, dtype=torch.float32)
        # not persistent: the normalisation is saved in the JSON config, not the weights
        self.register_buffer("mean", mean.reshape(1, 1, n_bands).clone(), persistent=False)
        self.register_buffer("std", std.reshape(1, 1, n_bands).clone(), persistent=False)
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        self.members = nn.ModuleList(
            _Member(n_bands + 1, n_classes, hidden_size=hidden_size, num_layers=num_layers,
                    bidirectional=bidirectional, dropout=dropout, conv_channels=conv_channels,
                    conv_kernel=conv_kernel, conv_layers=conv_layers)
            for _ in range(members))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised bands with missing values set to 0, plus the missing-step channel."""
        missing = torch.isnan(x)
        z = torch.where(missing, torch.zeros((), dtype=x.dtype, device=x.device),
                        (x - self.mean) / self.std)
        gap = missing.any(dim=-1, keepdim=True).to(z.dtype)
        return torch.cat([z, gap], dim=-1)

    def member_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every member, ``(members, batch, n_classes)``."""
        h = self.features(x)
        return torch.stack([m(h) for m in self.members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log class probabilities ``(batch, n_classes)`` of sequences ``(batch, time, bands)``
        (for one member: its logits; softmax and argmax are the same either way)."""
        logits = self.member_logits(x)
        if logits.shape[0] == 1:
            return logits[0]
        return torch.logsumexp(torch.log_softmax(logits, dim=-1), dim=0) - math.log(
            logits.shape[0])
