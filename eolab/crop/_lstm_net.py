"""The torch module behind :class:`eolab.crop.model.CropClassifier` (no I/O, no training).

Input ``(batch, time, bands)`` float, NaN where an observation is missing.
The module

1. standardises every band with the mean and standard deviation learned from
   the training data (stored as buffers, saved in the model's JSON config);
2. replaces missing values by 0 (the band mean), adds the first difference in
   time of every standardised band (the slope: green-up and senescence
   rates; 0 next to a missing value) and one channel that says which time
   steps had a missing band (so "cloudy" is not "average");
3. runs 1-D convolutions over time: a first multi-scale layer (kernels of
   several lengths side by side, InceptionTime-style, for short and long
   shapes), optionally further residual layers, each with batch
   normalisation and ReLU; then a (bi)directional LSTM over the sequence;
4. pools the LSTM outputs over time (mean and max, so that neither the start
   nor the end of the season dominates as the last hidden state does) and,
   LSTM-FCN-style, the convolution outputs (mean), and classifies the
   concatenation with one linear layer.

The architecture follows the LSTM-FCN / ConvLSTM line of time-series
classifiers (Karim et al. 2018; Rußwurm & Körner 2020, BreizhCrops; Fawaz et
al. 2020, InceptionTime) kept small enough for fast CPU inference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["ARCH_DEFAULTS", "CropNet", "kernel_sizes"]

#: Default architecture of :func:`eolab.crop.train.fit` (the keyword arguments of CropNet).
ARCH_DEFAULTS: dict[str, Any] = {
    "hidden_size": 64,
    "num_layers": 1,
    "bidirectional": False,
    "dropout": 0.2,
    "conv_channels": 64,
    "conv_kernel": [9, 19, 39],
    "conv_layers": 3,
    "difference": True,
    "conv_pool": True,
    "members": 1,
}


def kernel_sizes(conv_kernel: int | Sequence[int]) -> list[int]:
    """The first layer's kernel lengths as a list (an int is one kernel)."""
    ks = [int(conv_kernel)] if isinstance(conv_kernel, int) else [int(k) for k in conv_kernel]
    if not ks or any(k < 1 or k % 2 == 0 for k in ks):
        raise ValueError(f"conv_kernel must be an odd positive int or a list of them, got "
                         f"{conv_kernel!r}")
    return ks


class _MultiConv(nn.Module):
    """Convolutions of several (odd) kernel lengths over time, outputs side by side."""

    def __init__(self, n_in: int, n_out: int, kernels: list[int]) -> None:
        super().__init__()
        widths = [n_out // len(kernels) + (i < n_out % len(kernels)) for i in range(len(kernels))]
        self.kernels = kernels
        self.branches = nn.ModuleList(
            nn.Conv1d(n_in, w, k, padding=k // 2, bias=False) for w, k in zip(widths, kernels))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(h) for b in self.branches], dim=1)

    def merged_weight(self) -> torch.Tensor:
        """One kernel of the longest length equivalent to all branches (shorter kernels
        centred, zeros around): the layer as a single convolution."""
        kmax = max(self.kernels)
        parts = []
        for b, k in zip(self.branches, self.kernels):
            pad = (kmax - k) // 2
            parts.append(nn.functional.pad(b.weight, (pad, pad)))
        return torch.cat(parts, dim=0)


def _fused(weight: torch.Tensor, norm: nn.BatchNorm1d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of a bias-free convolution followed by batch norm in eval mode."""
    assert norm.running_var is not None and norm.running_mean is not None
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return weight * scale.reshape(-1, 1, 1), norm.bias - norm.running_mean * scale


class _Member(nn.Module):
    """One conv front-end + LSTM + pooling + linear classifier."""

    def __init__(self, n_in: int, n_classes: int, *, hidden_size: int, num_layers: int,
                 bidirectional: bool, dropout: float, conv_channels: int,
                 conv_kernel: int | Sequence[int], conv_layers: int, conv_pool: bool) -> None:
        super().__init__()
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        if conv_channels > 0 and conv_layers > 0:
            self.convs.append(_MultiConv(n_in, conv_channels, kernel_sizes(conv_kernel)))
            self.norms.append(nn.BatchNorm1d(conv_channels))
            for _ in range(conv_layers - 1):
                self.convs.append(nn.Conv1d(conv_channels, conv_channels, 3, padding=1,
                                            bias=False))
                self.norms.append(nn.BatchNorm1d(conv_channels))
            n_in = conv_channels
        self.conv_pool = bool(conv_pool) and len(self.convs) > 0
        # time-first: the CPU LSTM kernels run faster on (time, batch, features)
        self.lstm = nn.LSTM(n_in, hidden_size, num_layers=num_layers, batch_first=False,
                            dropout=dropout if num_layers > 1 else 0.0,
                            bidirectional=bidirectional)
        n_out = hidden_size * (2 if bidirectional else 1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * n_out + (n_in if self.conv_pool else 0), n_classes)

    def _front(self, c: torch.Tensor) -> torch.Tensor:
        """Training-mode convolutions of ``(batch, channels, time)``."""
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            z = torch.relu(norm(conv(c)))
            c = z if i == 0 else c + z          # residual after the first layer
        return c

    def _front_eval(self, h: torch.Tensor) -> torch.Tensor:
        """Eval-mode convolutions of time-first ``(time, batch, channels)``, the LSTM's
        layout: each layer is one kernel (branches merged, batch norm folded in), applied
        as one matrix product per kernel tap that adds into the output in place. In this
        layout a shift in time is a contiguous slice, so nothing is padded, unfolded or
        concatenated (those copies cost as much as the products over a dozen steps)."""
        t, b = h.shape[0], h.shape[1]
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            w = conv.merged_weight() if isinstance(conv, _MultiConv) else conv.weight
            w, bias = _fused(w, norm)                  # (out, in, k), (out,)
            n_out, n_in, k = w.shape
            taps = w.permute(2, 1, 0)                  # (k, in, out)
            centre = k // 2
            z = torch.addmm(bias, h.reshape(t * b, n_in), taps[centre])
            zt = z.view(t, b, n_out)
            for j in range(k):
                s = j - centre                         # out[τ] += h[τ + s] @ taps[j]
                if s == 0 or abs(s) >= t:
                    continue
                src = h[s:] if s > 0 else h[:t + s]
                dst = zt[:t - s] if s > 0 else zt[-s:]
                dst.view(-1, n_out).addmm_(src.reshape(-1, n_in), taps[j])
            z = z.relu_().view(t, b, n_out)
            h = z if i == 0 else h + z
        return h

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Logits of features ``(batch, time, channels)``."""
        pooled = []
        if len(self.convs) and self.training:
            c = self._front(h.transpose(1, 2))
            if self.conv_pool:
                pooled.append(c.mean(dim=2))
            seq = c.permute(2, 0, 1).contiguous()
        elif len(self.convs):
            seq = self._front_eval(h.transpose(0, 1).contiguous())
            if self.conv_pool:
                pooled.append(seq.mean(dim=0))
        else:
            seq = h.transpose(0, 1).contiguous()
        out, _ = self.lstm(seq)                       # (time, batch, hidden)
        pooled = [out.mean(dim=0), out.amax(dim=0), *pooled]
        logits: torch.Tensor = self.head(self.dropout(torch.cat(pooled, dim=-1)))
        return logits


class CropNet(nn.Module):
    """Conv front-end + LSTM + pooling over time + linear head, optionally an ensemble
    of ``members`` such networks trained side by side.

    Parameters
    ----------
    n_bands, n_classes
        Input bands and output classes.
    mean, std
        Per-band normalisation, length ``n_bands``.
    hidden_size, num_layers, bidirectional, dropout
        LSTM settings; ``dropout`` also applies before the head.
    conv_channels, conv_kernel, conv_layers
        Width, kernel length(s) and depth of the convolutions before the
        LSTM. A list of kernel lengths makes the first layer multi-scale (its
        channels split among them); later layers have kernel 3 and residual
        connections. 0 channels feeds the inputs straight into the LSTM.
    difference
        Add the first difference in time of every standardised band as inputs.
    conv_pool
        Also pool the convolution outputs (mean over time) into the head.
    members
        Number of independently initialised networks; each is trained on its
        own loss (:meth:`member_logits`), the output is the log of their mean
        class probabilities.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, n_bands: int, n_classes: int, *, mean: torch.Tensor | None = None,
                 std: torch.Tensor | None = None, hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = False, dropout: float = 0.2, conv_channels: int = 64,
                 conv_kernel: int | Sequence[int] = (9, 19, 39), conv_layers: int = 3,
                 difference: bool = True, conv_pool: bool = True, members: int = 1) -> None:
        super().__init__()
        mean = torch.zeros(n_bands) if mean is None else torch.as_tensor(mean, dtype=torch.float32)
        std = torch.ones(n_bands) if std is None else torch.as_tensor(std, dtype=torch.float32)
        # not persistent: the normalisation is saved in the JSON config, not the weights
        self.register_buffer("mean", mean.reshape(1, 1, n_bands).clone(), persistent=False)
        self.register_buffer("std", std.reshape(1, 1, n_bands).clone(), persistent=False)
        if members < 1:
            raise ValueError(f"members must be >= 1, got {members}")
        self.difference = bool(difference)
        n_in = n_bands * (2 if self.difference else 1) + 1
        self.members = nn.ModuleList(
            _Member(n_in, n_classes, hidden_size=hidden_size, num_layers=num_layers,
                    bidirectional=bidirectional, dropout=dropout, conv_channels=conv_channels,
                    conv_kernel=conv_kernel, conv_layers=conv_layers, conv_pool=conv_pool)
            for _ in range(members))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised bands (missing: 0), their first differences (0 next to a missing
        value and at the first step) and the missing-step channel."""
        missing = torch.isnan(x)
        z = ((x - self.mean) / self.std).masked_fill_(missing, 0.0)
        gap = missing.any(dim=-1, keepdim=True).to(z.dtype)
        if not self.difference:
            return torch.cat([z, gap], dim=-1)
        d = torch.zeros_like(z)
        d[:, 1:] = z[:, 1:] - z[:, :-1]
        d.masked_fill_(missing, 0.0)
        d[:, 1:].masked_fill_(missing[:, :-1], 0.0)
        return torch.cat([z, d, gap], dim=-1)

    def member_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every member, ``(members, batch, n_classes)``."""
        h = self.features(x)
        return torch.stack([m(h) for m in self.members])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log class probabilities ``(batch, n_classes)`` of sequences ``(batch, time, bands)``
        (for one member: its logits; softmax and argmax are the same either way)."""
        if len(self.members) == 1:
            logits: torch.Tensor = self.members[0](self.features(x))
            return logits
        many = self.member_logits(x)
        return torch.logsumexp(torch.log_softmax(many, dim=-1), dim=0) - math.log(many.shape[0])
