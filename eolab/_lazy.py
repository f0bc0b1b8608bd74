"""Module attributes that load on first use (PEP 562), for the package ``__init__`` files."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_getattr(package: str, names: Mapping[str, str], submodules: Iterable[str]
                 ) -> Callable[[str], Any]:
    """A module ``__getattr__``: ``names`` maps an attribute to the module defining it;
    ``submodules`` of ``package`` are imported when asked for by name."""
    subs = frozenset(submodules)

    def __getattr__(name: str) -> Any:
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        if name in subs:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
