"""Crop LSTM benchmarks (issue 6): real-data accuracy, CPU inference and training speed, GPU.

Prints one JSON line per measurement (each in a fresh process, see ``_measure.py``):

* ``ucr_accuracy``: UCR "Crop" (../shared/realdata/ucr_crop), the LSTM trained with
  ``fit``'s default options against 1-NN Euclidean on the fixed held-out fifth
  (goal: at least +3 points, +5 hoped for); skipped when the data are absent.
* ``inference_cpu``: sequences per second through the public path,
  ``CropClassifier.predict_proba`` with its default batch, of a model with the
  default architecture (``ARCH_DEFAULTS``, randomly initialised: the weights'
  values do not change the time) on 200,000 sequences of 12 monthly steps x 9
  bands (5 % missing), 16 classes, ``torch.set_num_threads(2)`` (goal >= 20,000/s).
* ``classify_cube_cpu``: the same model through ``eolab.crop.predict.classify_cube``
  on a 500 x 500 px composite cube (12 months x 9 bands, every pixel valid),
  pixels per second including the chunking, validity mask and output maps.
* ``train_cpu``: wall time of ``fit`` with its defaults on 10,000 synthetic
  sequences of 12 steps x 9 bands, 16 classes, 2 threads (goal <= about 10 minutes).
* ``inference_gpu``: the same inference on CUDA, when available.

``--arch '{"members": 2}'`` times the inference of another architecture
(overrides of ``ARCH_DEFAULTS``, JSON) instead of the default one.

    python benchmarks/bench_crop_lstm.py [--skip-ucr] [--skip-train] [--threads 2] [--arch JSON]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import measure

REPO = Path(__file__).resolve().parents[1]
N_STEPS, N_BANDS, N_CLASSES = 12, 9, 16


def _synthetic(n: int, seed: int = 0):
    """Sequences of 16 classes that differ by the timing and height of a seasonal peak."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = rng.integers(0, N_CLASSES, n)
    t = np.arange(N_STEPS)
    peak = 1.0 + 9.0 * (y % 8) / 7
    height = 0.3 + 0.2 * (y // 8)
    curve = height[:, None] * np.exp(-0.5 * ((t[None] - peak[:, None]) / 1.5) ** 2)
    x = 0.05 + curve[:, :, None] * rng.uniform(0.5, 1.5, (1, 1, N_BANDS))
    x = x + rng.normal(0, 0.03, (n, N_STEPS, N_BANDS))
    x[rng.random((n, N_STEPS)) < 0.05] = np.nan
    return x.astype("float32"), y


def _model(device: str, arch: dict | None = None):
    import numpy as np
    import torch

    from eolab.crop._lstm_net import ARCH_DEFAULTS, CropNet
    from eolab.crop.model import CropClassifier

    torch.manual_seed(0)
    arch = {**ARCH_DEFAULTS, **(arch or {})}
    net = CropNet(N_BANDS, N_CLASSES, **arch)
    return CropClassifier(net, np.arange(N_CLASSES), [f"b{i}" for i in range(N_BANDS)],
                          N_STEPS, arch)


def bench_inference(threads: int, device: str = "cpu", n: int = 200_000,
                    arch: dict | None = None) -> dict:
    import torch

    torch.set_num_threads(threads)
    clf = _model(device, arch)
    x, _ = _synthetic(n)
    clf.predict_proba(x[:20_000], device=device)                 # warm-up
    if device != "cpu":
        torch.cuda.synchronize()
    start = time.perf_counter()
    clf.predict_proba(x, device=device)
    if device != "cpu":
        torch.cuda.synchronize()
    dt = time.perf_counter() - start
    return {"device": device if device == "cpu" else torch.cuda.get_device_name(),
            "threads": threads, "sequences": n, "sequences_per_s": round(n / dt),
            "goal_per_s": 20_000, "architecture": "defaults" if not arch else arch}


def bench_cube(threads: int, size: int = 500) -> dict:
    import numpy as np
    import torch
    import xarray as xr

    from eolab.crop.predict import classify_cube

    torch.set_num_threads(threads)
    clf = _model("cpu")
    x, _ = _synthetic(size * size)
    x = np.nan_to_num(x, nan=0.05)
    # stored (month, band, y, x) like a composites file, not a view of pixel-major data
    cube = xr.DataArray(np.ascontiguousarray(x.reshape(size, size, N_STEPS, N_BANDS)
                                             .transpose(2, 3, 0, 1)),
                        dims=("month", "band", "y", "x"),
                        coords={"band": list(clf.bands), "y": np.arange(size) * -10.0,
                                "x": np.arange(size) * 10.0})
    classify_cube(cube[:, :, :40], clf, progress=False)                 # warm-up
    start = time.perf_counter()
    out = classify_cube(cube, clf, progress=False)
    dt = time.perf_counter() - start
    assert int(out["valid"].sum()) == size * size
    return {"threads": threads, "pixels": size * size, "pixels_per_s": round(size * size / dt),
            "goal_per_s": 20_000}


def bench_train(threads: int, n: int = 10_000) -> dict:
    import numpy as np
    import torch

    from eolab.crop.train import fit

    torch.set_num_threads(threads)
    x, y = _synthetic(n)
    xv, yv = _synthetic(2000, seed=1)
    start = time.perf_counter()
    clf = fit(x, y, device="cpu")
    wall = time.perf_counter() - start
    return {"threads": threads, "sequences": n, "train_s": round(wall, 1),
            "epochs_run": len(clf.training["history"]), "best_epoch": clf.training["best_epoch"],
            "synthetic_accuracy": round(float(np.mean(clf.predict(xv) == yv)), 4),
            "goal_s": 600}


def bench_ucr(threads: int, root: Path) -> dict:
    import torch

    from eolab.crop._train_ucr import score_ucr_crop

    torch.set_num_threads(threads)
    r = score_ucr_crop(root, device="cpu")
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-ucr", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--realdata", type=Path, default=REPO.parent / "shared" / "realdata")
    parser.add_argument("--arch", type=json.loads, default=None,
                        help="JSON overrides of ARCH_DEFAULTS: time only this architecture's "
                             "CPU inference")
    args = parser.parse_args()
    import torch

    if args.arch:
        measure("inference_cpu", functools.partial(bench_inference, args.threads,
                                                   arch=args.arch))
        return
    measure("inference_cpu", functools.partial(bench_inference, args.threads))
    measure("classify_cube_cpu", functools.partial(bench_cube, args.threads))
    if torch.cuda.is_available():
        measure("inference_gpu", functools.partial(bench_inference, args.threads, "cuda",
                                                     n=2_000_000))
    if not args.skip_train:
        measure("train_cpu", functools.partial(bench_train, args.threads))
    ucr = args.realdata / "ucr_crop" / "Crop_TRAIN.tsv"
    if args.skip_ucr:
        pass
    elif ucr.is_file():
        measure("ucr_accuracy", functools.partial(bench_ucr, args.threads, ucr.parent))
    else:
        print(f'{{"benchmark": "ucr_accuracy", "skipped": "{ucr} not found"}}')


if __name__ == "__main__":
    main()
