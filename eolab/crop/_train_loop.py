"""Seeded training loop of the crop LSTM (private: :func:`eolab.crop.train.fit` is the API).

Everything random (initialisation, shuffling, augmentation, dropout, the
validation split) draws from generators seeded by ``seed``, inside a forked
torch RNG state so that the caller's global state is left alone. On CPU the
result is bit-for-bit reproducible for a given seed and thread count.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from eolab.crop._lstm_net import CropNet

__all__ = ["TrainResult", "augment", "stratified_split", "train_net"]


@dataclass
class TrainResult:
    """What the loop returns: the trained net (best validation epoch) and its history."""

    net: CropNet
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0


def stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, validation) with about ``fraction`` of every class in validation.

    Classes with fewer than 2 samples stay entirely in training.
    """
    train, val = [], []
    for cls in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n_val = round(fraction * idx.size) if idx.size >= 2 else 0
        n_val = min(n_val, idx.size - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def augment(x: torch.Tensor, std: torch.Tensor, gen: torch.Generator, *, jitter: float,
            scale: float, mask: float, shift: int) -> torch.Tensor:
    """Random copy of a batch ``(b, t, c)``: band-wise scaling, Gaussian jitter, a shift in
    time by up to ``shift`` steps (edges repeated) and time steps dropped to NaN.

    (Mixup, the other augmentation of the loop, mixes pairs of sequences and
    their labels; it is applied by :func:`train_net` after this.)"""
    b, t, c = x.shape
    out = x
    if shift > 0:
        offs = torch.randint(-shift, shift + 1, (b, 1), generator=gen)
        pos = (torch.arange(t).reshape(1, t) + offs).clamp(0, t - 1)
        out = torch.gather(out, 1, pos.unsqueeze(-1).expand(b, t, c))
    if scale > 0:
        out = out * (1.0 + scale * torch.randn((b, 1, c), generator=gen))
    if jitter > 0:
        out = out + jitter * std * torch.randn((b, t, c), generator=gen)
    if mask > 0:
        drop = torch.rand((b, t, 1), generator=gen) < mask
        out = torch.where(drop, torch.full((), float("nan")), out)
    return out


def _evaluate(net: CropNet, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module,
              device: torch.device, batch: int = 2048) -> tuple[float, float]:
    net.eval()
    losses, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            xb, yb = x[i:i + batch].to(device), y[i:i + batch].to(device)
            logits = net(xb)
            losses += float(loss_fn(logits, yb)) * xb.shape[0]
            correct += int((logits.argmax(1) == yb).sum())
    n = max(x.shape[0], 1)
    return losses / n, correct / n


def train_net(x: np.ndarray, y: np.ndarray, n_classes: int, *, arch: dict[str, Any],
              seed: int, epochs: int, batch_size: int, lr: float, weight_decay: float,
              label_smoothing: float, val_fraction: float, patience: int | None,
              class_weight: np.ndarray | None, aug: dict[str, Any], device: torch.device,
              progress: bool, ema_decay: float = 0.0, teacher: CropNet | None = None,
              distill_weight: float = 0.5, temperature: float = 2.0) -> TrainResult:
    """Train a :class:`CropNet` on ``x`` (n, t, c) with class indices ``y`` (0..n_classes-1).

    With a ``teacher`` (a trained net, in eval mode, on ``device``) the loss is
    ``(1 - distill_weight)`` times the label loss plus ``distill_weight`` times
    the teacher-matching loss of knowledge distillation (Hinton et al. 2015):
    ``temperature² · KL(teacher ‖ student)`` of the class probabilities softened
    by ``temperature``. The teacher sees the same augmented batch as the student
    ("consistent teaching", Beyer et al. 2022).
    """
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    if val_fraction > 0:
        tr_idx, va_idx = stratified_split(y, val_fraction, rng)
    else:
        tr_idx, va_idx = np.arange(y.size), np.arange(0)
    x_tr = x[tr_idx]
    with np.errstate(all="ignore"):
        mean = np.nanmean(x_tr, axis=(0, 1))
        std = np.nanstd(x_tr, axis=(0, 1))
    mean = np.where(np.isfinite(mean), mean, 0.0)
    std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        net = CropNet(x.shape[2], n_classes, mean=torch.tensor(mean, dtype=torch.float32),
                      std=torch.tensor(std, dtype=torch.float32), **arch).to(device)
        xt = torch.from_numpy(np.ascontiguousarray(x_tr, dtype=np.float32))
        yt = torch.from_numpy(y[tr_idx].astype(np.int64))
        xv = torch.from_numpy(np.ascontiguousarray(x[va_idx], dtype=np.float32))
        yv = torch.from_numpy(y[va_idx].astype(np.int64))
        weight = None if class_weight is None else torch.tensor(class_weight, dtype=torch.float32,
                                                                device=device)
        loss_fn = nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
        eval_loss = nn.CrossEntropyLoss()
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
        steps_per_epoch = max(1, math.ceil(xt.shape[0] / batch_size))
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, epochs=epochs,
                                                    steps_per_epoch=steps_per_epoch,
                                                    pct_start=0.2)
        std_t = torch.tensor(std, dtype=torch.float32).reshape(1, 1, -1)
        shape_aug = {k: v for k, v in aug.items() if k != "mixup"}
        mixup = float(aug.get("mixup", 0.0))
        result = TrainResult(net=net)
        best_state, best_score, waited = None, -math.inf, 0
        # exponential moving average of the weights (and batch-norm statistics): the
        # averaged net is the one validated and kept
        ema_net = copy.deepcopy(net) if ema_decay > 0 else None
        ema_pairs = ([] if ema_net is None else
                     list(zip(ema_net.state_dict().values(), net.state_dict().values())))
        bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress)
        for epoch in bar:
            net.train()
            order = torch.randperm(xt.shape[0], generator=gen)
            total, seen = 0.0, 0
            for i in range(0, order.numel(), batch_size):
                sel = order[i:i + batch_size]
                if sel.numel() < 2:       # BatchNorm needs two samples
                    continue
                xb = augment(xt[sel], std_t, gen, **shape_aug)
                yb = yt[sel].to(device)
                lam, partner = 1.0, None
                if mixup > 0:
                    lam = float(rng.beta(mixup, mixup))
                    partner = torch.randperm(sel.numel(), generator=gen)
                    xb = lam * xb + (1.0 - lam) * xb[partner]     # NaN where either is missing
                xb = xb.to(device)
                opt.zero_grad(set_to_none=True)
                member_logits = net.member_logits(xb)
                if partner is None:
                    loss = sum(loss_fn(lg, yb) for lg in member_logits)
                else:
                    yp = yb[partner.to(device)]
                    loss = sum(lam * loss_fn(lg, yb) + (1.0 - lam) * loss_fn(lg, yp)
                               for lg in member_logits)
                if teacher is not None:
                    with torch.no_grad():
                        soft = torch.log_softmax(teacher(xb) / temperature, dim=-1)
                    match = sum(nn.functional.kl_div(torch.log_softmax(lg / temperature, dim=-1),
                                                     soft, log_target=True,
                                                     reduction="batchmean")
                                for lg in member_logits)
                    loss = ((1.0 - distill_weight) * loss
                            + distill_weight * temperature ** 2 * match)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
                sched.step()
                with torch.no_grad():
                    for avg, cur in ema_pairs:
                        if avg.is_floating_point():
                            avg.lerp_(cur, 1.0 - ema_decay)
                        else:
                            avg.copy_(cur)
                total += float(loss.detach()) * sel.numel()
                seen += sel.numel()
            record = {"epoch": float(epoch + 1), "train_loss": total / max(seen, 1)}
            if yv.numel():
                judged = net if ema_net is None else ema_net
                vloss, vacc = _evaluate(judged, xv, yv, eval_loss, device)
                record.update(val_loss=vloss, val_accuracy=vacc)
                score = vacc - 1e-3 * vloss     # accuracy first, loss breaks ties
                if score > best_score:
                    best_score, waited, result.best_epoch = score, 0, epoch + 1
                    best_state = copy.deepcopy(judged.state_dict())
                else:
                    waited += 1
            result.history.append(record)
            bar.set_postfix({k: round(v, 3) for k, v in record.items() if k != "epoch"})
            if patience is not None and yv.numel() and waited >= patience:
                break
        if best_state is not None:
            net.load_state_dict(best_state)
        elif ema_net is not None:
            net.load_state_dict(ema_net.state_dict())
        else:
            result.best_epoch = len(result.history)
    net.eval()
    return result
