"""Sentinel-1 product metadata (manifest + annotations) and pair checks.

Private helper of :mod:`eolab.io.sentinel1`, which re-exports the public names.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eolab.errors import BandError, ProductError, ProductTypeError
from eolab.io._s1_safe import (
    Container,
    Manifest,
    open_container,
    parse_manifest,
    parse_swath_timing,
)


@dataclass(frozen=True)
class S1Product:
    """What :func:`read_s1_metadata` learns from the manifest and the annotations."""

    path: Path
    name: str
    mission: str
    mode: str
    product_type: str
    orbit_pass: str
    absolute_orbit: int
    relative_orbit: int
    start_time: str
    stop_time: str
    ascending_node_time: str
    datatake_id: int
    polarisations: tuple[str, ...]
    swaths: tuple[str, ...]
    lines_per_burst: dict[str, int] = field(default_factory=dict)
    burst_times: dict[str, tuple[np.datetime64, ...]] = field(default_factory=dict)
    burst_ids: dict[str, tuple[int | None, ...]] = field(default_factory=dict)
    is_zip: bool = False

    @property
    def burst_count(self) -> dict[str, int]:
        return {s: len(t) for s, t in self.burst_times.items()}

    def as_attrs(self) -> dict[str, Any]:
        return {"product_name": self.name, "mission": self.mission, "mode": self.mode,
                "product_type": self.product_type, "pass": self.orbit_pass,
                "absolute_orbit": self.absolute_orbit, "relative_orbit": self.relative_orbit,
                "start_time": self.start_time, "stop_time": self.stop_time,
                "ascending_node_time": self.ascending_node_time, "source": str(self.path)}


def load_product(path: str | Path) -> tuple[Container, Manifest, S1Product, dict[str, ET.Element]]:
    container = open_container(path)
    man = parse_manifest(container)
    name = (container.root.rstrip("/") if container.is_zip and container.root
            else container.path.name)
    name = name.removesuffix(".zip").removesuffix(".SAFE")
    annotations: dict[str, ET.Element] = {}
    lpb, times, ids = {}, {}, {}
    for swath in man.swaths or sorted({s for (_, s, _) in man.files}):
        for pol in man.polarisations:
            rel = man.files.get(("annotation", swath, pol))
            if rel is None or not container.exists(rel):
                continue
            ann = container.xml(rel)
            annotations[f"{swath}/{pol}"] = ann
            if swath not in times:
                timing = parse_swath_timing(ann)
                lpb[swath] = timing.lines_per_burst
                times[swath] = tuple(b.azimuth_time for b in timing.bursts)
                ids[swath] = tuple(b.burst_id for b in timing.bursts)
    if man.product_type == "GRD":  # GRD files are named "iw"; the manifest lists IW1..3
        swaths = tuple(sorted({s for (_, s, _) in man.files}))
    else:
        swaths = tuple(s for s in man.swaths if s in times) or tuple(sorted(times))
    product = S1Product(
        path=container.path, name=name, mission=man.mission, mode=man.mode,
        product_type=man.product_type, orbit_pass=man.orbit_pass,
        absolute_orbit=man.absolute_orbit, relative_orbit=man.relative_orbit,
        start_time=man.start_time, stop_time=man.stop_time,
        ascending_node_time=man.ascending_node_time, datatake_id=man.datatake_id,
        polarisations=man.polarisations, swaths=swaths, lines_per_burst=lpb,
        burst_times=times, burst_ids=ids, is_zip=container.is_zip,
    )
    return container, man, product, annotations


def read_s1_metadata(path: str | Path) -> S1Product:
    """Read a Sentinel-1 product's metadata (manifest + annotations; no pixels).

    Raises
    ------
    ProductError, CorruptProductError
        Missing path, not a Sentinel-1 SAFE product, corrupt archive or XML.
    """
    return load_product(path)[2]


def check_pol(product: S1Product, pol: str) -> str:
    p = str(pol).upper()
    if p not in product.polarisations:
        raise BandError(f"polarisation {pol!r} is not in {product.name} (it has "
                        f"{', '.join(product.polarisations)})")
    return p


def check_pair(a: S1Product | str | Path, b: S1Product | str | Path, *, pol: str | None = "VV",
               coherence: bool = False) -> None:
    """Check that two products can be compared (change detection, coherence).

    Raises
    ------
    ProductTypeError
        Different product types, or a GRD when ``coherence=True`` (GRDs have
        no phase; sigma0 and ACD still work).
    ProductError
        Different mode, pass or relative orbit, the same acquisition twice,
        or ``pol`` missing from one of them (``pol=None``: the polarisation
        sets must be equal).
    """
    pa = a if isinstance(a, S1Product) else read_s1_metadata(a)
    pb = b if isinstance(b, S1Product) else read_s1_metadata(b)
    if coherence:
        grd = [p.name for p in (pa, pb) if p.product_type != "SLC"]
        if grd:
            raise ProductTypeError(f"coherence needs two IW SLC products; {', '.join(grd)} "
                                   "is not SLC (no phase) — sigma0 and ACD still work with GRD")
    if pa.product_type != pb.product_type:
        raise ProductTypeError(f"the products are of different types ({pa.name}: "
                               f"{pa.product_type}, {pb.name}: {pb.product_type})")
    for label, va, vb in (("acquisition mode", pa.mode, pb.mode),
                          ("orbit direction (pass)", pa.orbit_pass, pb.orbit_pass),
                          ("relative orbit (track)", pa.relative_orbit, pb.relative_orbit)):
        if va != vb:
            raise ProductError(f"the products have different {label}: {va} ({pa.name}) vs {vb} "
                               f"({pb.name}); change detection needs two acquisitions of the "
                               "same track")
    if pa.start_time == pb.start_time and pa.mission == pb.mission:
        raise ProductError(f"both products are the same acquisition ({pa.name}); give two dates")
    if pol is not None:
        p = str(pol).upper()
        missing = [x.name for x in (pa, pb) if p not in x.polarisations]
        if missing:
            raise ProductError(f"polarisation {p} is missing from {', '.join(missing)} "
                               f"({pa.name}: {'+'.join(pa.polarisations)}, {pb.name}: "
                               f"{'+'.join(pb.polarisations)})")
    elif set(pa.polarisations) != set(pb.polarisations):
        raise ProductError(f"the products have different polarisations: "
                           f"{'+'.join(pa.polarisations)} vs {'+'.join(pb.polarisations)}")
