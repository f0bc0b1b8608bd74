"""Where the sample data live.

Resolution order: the ``EOLAB_DATA_DIR`` environment variable; else
``data_samples/`` of the repository the command runs in (the current folder
or one of its parents holding ``data_samples/`` next to ``pyproject.toml``
or ``.git``); else ``data_samples/`` beside the installed package's source
tree (an editable install); else ``./data_samples``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["data_dir", "ENV_VAR"]

ENV_VAR = "EOLAB_DATA_DIR"


def _repo_samples(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").exists() or (folder / ".git").exists():
            return folder / "data_samples"
    return None


def data_dir() -> Path:
    """Folder that holds (or will hold) the sample data."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    found = _repo_samples(Path.cwd().resolve())
    if found is not None:
        return found
    pkg_repo = Path(__file__).resolve().parents[2]
    if (pkg_repo / "pyproject.toml").exists():
        return pkg_repo / "data_samples"
    return Path.cwd() / "data_samples"
