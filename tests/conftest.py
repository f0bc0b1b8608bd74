"""Shared fixtures.

* ``samples_dir``: the simulated tutorial samples, built once (``eolab samples
  build``) into ``$EOLAB_DATA_DIR`` or ``data_samples/`` when missing.
* ``chromium``: a headless Chromium for the browser tests of maps; skips when
  absent, fails in CI.
* ``realdata``: ``../shared/realdata`` (or ``$EOLAB_REALDATA``); tests that
  need it skip when it is absent on a user's machine but **fail** in CI
  (``CI=true``), where it is always present.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def realdata_root() -> Path | None:
    """Folder of the real validation datasets, or None when absent."""
    env = os.environ.get("EOLAB_REALDATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "realdata", REPO / ".." / "shared" / "realdata"]
    for path in candidates:
        if path.is_dir() and any(path.iterdir()):
            return path.resolve()
    return None


@pytest.fixture(scope="session")
def realdata() -> Path:
    root = realdata_root()
    if root is None:
        if _in_ci():
            pytest.fail("CI=true but ../shared/realdata (or $EOLAB_REALDATA) is missing: "
                        "the real-data tests must run in CI")
        pytest.skip("real validation data not found (../shared/realdata or $EOLAB_REALDATA)")
    return root


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    from eolab.samples import ensure_samples

    return ensure_samples(None)


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    exe = _chromium()
    if exe is None:
        reason = "headless Chromium not found (install it with .ci/install-browser.sh)"
        if _in_ci():
            pytest.fail(f"{reason}; CI must run the browser tests")
        pytest.skip(reason)
    return exe
