"""Time and memory of building the default samples (``eolab samples build``)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _measure import measure  # noqa: E402


def build() -> dict[str, float]:
    from eolab.samples import DEFAULT_SEED, build_samples

    with tempfile.TemporaryDirectory() as tmp:
        paths = build_samples(tmp, seed=DEFAULT_SEED, progress=False)
        size = sum(p.stat().st_size for p in paths if p.is_file())
    return {"files": len(paths), "size_mb": round(size / 2**20, 1), "cores": os.cpu_count() or 0}


if __name__ == "__main__":
    measure("samples_build", build)
