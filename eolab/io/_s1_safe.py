"""Sentinel-1 SAFE container (zip or folder): manifest, file table, swath timing, integrity.

Private helper of :mod:`eolab.io.sentinel1`. Nothing here reads pixels except
:func:`check_measurement`, which reads one block to detect truncated TIFFs.

Zips are never extracted: XML members are read with :mod:`zipfile` (which
checks their CRC) and the measurement TIFFs are opened by GDAL through
``/vsizip/``. xarray-sentinel's own readers take the XML as file objects.
"""

from __future__ import annotations

import functools
import io
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.errors import RasterioIOError
from rasterio.windows import Window

from eolab.errors import CorruptProductError, ProductError

NS = {
    "safe": "http://www.esa.int/safe/sentinel-1.0",
    "s1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1",
    "s1sarl1": "http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1",
}
_KINDS = {
    "s1Level1ProductSchema": "annotation",
    "s1Level1CalibrationSchema": "calibration",
    "s1Level1NoiseSchema": "noise",
    "s1Level1MeasurementSchema": "measurement",
}
_FILE_RE = re.compile(r"^(?:[a-z]+-)?s1[abcd]-([a-z0-9]+)-([a-z]+)-([a-z]{2})-")


@dataclass(frozen=True)
class Container:
    """A SAFE product opened for reading: a folder or a zip archive."""

    path: Path
    is_zip: bool
    root: str  # member prefix of the .SAFE folder inside a zip ("" for folders)
    names: frozenset[str] = field(default_factory=frozenset)

    def member(self, rel: str) -> str:
        rel = rel.removeprefix("./")
        return f"{self.root}{rel}"

    def exists(self, rel: str) -> bool:
        return rel.removeprefix("./") in self.names  # names are relative to the .SAFE root

    def read(self, rel: str) -> bytes:
        member = self.member(rel)
        try:
            if self.is_zip:
                with zipfile.ZipFile(self.path) as zf:
                    return zf.read(member)
            return (self.path / member).read_bytes()
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise CorruptProductError(f"{self.path.name}: cannot read {member}: {exc}; the "
                                      "archive is corrupt, download it again") from exc
        except (KeyError, FileNotFoundError) as exc:
            raise CorruptProductError(f"{self.path.name}: {member} is missing (incomplete "
                                      "product?)") from exc

    def xml(self, rel: str) -> ET.Element:
        try:
            return ET.fromstring(self.read(rel))
        except ET.ParseError as exc:
            raise CorruptProductError(f"{self.path.name}: {rel} is not valid XML ({exc}); "
                                      "the product is corrupt, download it again") from exc

    def fileobj(self, rel: str) -> io.BytesIO:
        return io.BytesIO(self.read(rel))

    def gdal_path(self, rel: str) -> str:
        if self.is_zip:
            return f"/vsizip/{self.path.resolve()}/{self.member(rel)}"
        return str(self.path / self.member(rel))


def open_container(path: str | Path) -> Container:
    """Open a SAFE zip, a ``.SAFE`` folder or a folder holding exactly one ``.SAFE``."""
    path = Path(path)
    if not path.exists():
        raise ProductError(f"Sentinel-1 product not found: {path}")
    if path.is_dir():
        if not (path / "manifest.safe").is_file():
            safes = sorted(p for p in path.glob("*.SAFE") if p.is_dir())
            if len(safes) == 1:
                path = safes[0]
        if not (path / "manifest.safe").is_file():
            raise ProductError(f"{path.name} has no manifest.safe: not a Sentinel-1 SAFE product")
        names = frozenset(str(p.relative_to(path)).replace("\\", "/")
                          for p in path.rglob("*") if p.is_file())
        return Container(path, False, "", names)
    if not zipfile.is_zipfile(path):
        raise CorruptProductError(f"{path.name} is not a valid zip archive (corrupt or truncated "
                                  "download?); download it again")
    try:
        with zipfile.ZipFile(path) as zf:
            all_names = zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CorruptProductError(f"cannot read the zip archive {path.name}: {exc}; "
                                  "download it again") from exc
    manifests = sorted((n for n in all_names if re.search(r"(^|/)manifest\.safe$", n)), key=len)
    if not manifests:
        hint = (" (it looks like a Sentinel-2 product)"
                if any(re.search(r"MTD_MSIL[12][AC]\.xml$", n) for n in all_names) else "")
        raise ProductError(f"{path.name} holds no manifest.safe: not a Sentinel-1 SAFE product"
                           f"{hint}")
    root = manifests[0][: -len("manifest.safe")]
    names = frozenset(n[len(root):] for n in all_names
                      if n.startswith(root) and not n.endswith("/"))
    return Container(path, True, root, names)


@dataclass(frozen=True)
class Manifest:
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
    files: dict[tuple[str, str, str], str]  # (kind, swath, pol) -> relative path


def _text(root: ET.Element, query: str, name: str, required: bool = True) -> str:
    value = root.findtext(query, namespaces=NS)
    if value is None or not value.strip():
        if required:
            raise ProductError(f"{name}: manifest.safe has no {query.split(':')[-1]}; "
                               "not a valid Sentinel-1 SAFE product")
        return ""
    return value.strip()


def parse_manifest(container: Container) -> Manifest:
    name = container.path.name
    root = container.xml("manifest.safe")
    family = _text(root, ".//safe:platform/safe:familyName", name)
    if family != "SENTINEL-1":
        raise ProductError(f"{name} is a {family} product, not Sentinel-1")
    number = _text(root, ".//safe:platform/safe:number", name)
    orbits = {e.text.strip() for e in root.findall(".//safe:orbitNumber", NS) if e.text}
    rel = {e.text.strip() for e in root.findall(".//safe:relativeOrbitNumber", NS) if e.text}
    if len(orbits) != 1 or len(rel) != 1:
        raise ProductError(f"{name}: manifest.safe has inconsistent orbit numbers "
                           f"{sorted(orbits)} / {sorted(rel)}")
    files: dict[tuple[str, str, str], str] = {}
    for obj in root.iter("dataObject"):
        kind = _KINDS.get(obj.get("repID", ""))
        loc = obj.find(".//fileLocation")
        if kind is None or loc is None:
            continue
        href = loc.get("href", "").removeprefix("./")
        match = _FILE_RE.match(href.rsplit("/", 1)[-1])
        if match:
            files[(kind, match.group(1).upper(), match.group(3).upper())] = href
    pols = tuple(e.text.strip().upper() for e in
                 root.findall(".//s1sarl1:transmitterReceiverPolarisation", NS) if e.text)
    swaths = tuple(e.text.strip().upper() for e in
                   root.findall(".//s1sarl1:instrumentMode/s1sarl1:swath", NS) if e.text)
    return Manifest(
        mission=f"S1{number}",
        mode=_text(root, ".//s1sarl1:instrumentMode/s1sarl1:mode", name),
        product_type=_text(root, ".//s1sarl1:productType", name),
        orbit_pass=_text(root, ".//s1:pass", name),
        absolute_orbit=int(orbits.pop()),
        relative_orbit=int(rel.pop()),
        start_time=_text(root, ".//safe:startTime", name),
        stop_time=_text(root, ".//safe:stopTime", name),
        ascending_node_time=_text(root, ".//s1:ascendingNodeTime", name, required=False),
        datatake_id=int(_text(root, ".//s1sarl1:missionDataTakeID", name, required=False) or -1),
        polarisations=pols,
        swaths=swaths,
        files=files,
    )


def _ints(el: ET.Element | None) -> np.ndarray:
    if el is None or not el.text:
        return np.zeros(0, dtype=np.int64)
    return np.array(el.text.split(), dtype=np.int64)


def _floats(el: ET.Element | None) -> np.ndarray:
    if el is None or not el.text:
        return np.zeros(0, dtype=np.float64)
    return np.array(el.text.split(), dtype=np.float64)


@dataclass(frozen=True)
class BurstTiming:
    """One burst of ``//swathTiming`` (what xarray-sentinel does not parse)."""

    index: int
    azimuth_time: np.datetime64
    azimuth_anx_time: float
    sensing_time: str
    byte_offset: int
    first_valid_sample: np.ndarray
    last_valid_sample: np.ndarray
    burst_id: int | None

    @property
    def valid_lines(self) -> tuple[int, int]:
        """First and last line (burst-relative) with valid samples; (-1, -1) when none."""
        ok = np.flatnonzero(self.first_valid_sample >= 0)
        return (int(ok[0]), int(ok[-1])) if ok.size else (-1, -1)


@dataclass(frozen=True)
class SwathTiming:
    lines_per_burst: int
    samples_per_burst: int
    bursts: tuple[BurstTiming, ...]


def parse_swath_timing(ann: ET.Element) -> SwathTiming:
    st = ann.find(".//swathTiming")
    if st is None:
        return SwathTiming(0, 0, ())
    bursts = []
    for k, b in enumerate(st.findall("./burstList/burst")):
        bid = b.findtext("burstId")
        bursts.append(BurstTiming(
            index=k,
            azimuth_time=np.datetime64(b.findtext("azimuthTime", "").strip(), "ns"),
            azimuth_anx_time=float(b.findtext("azimuthAnxTime") or "nan"),
            sensing_time=(b.findtext("sensingTime") or "").strip(),
            byte_offset=int(b.findtext("byteOffset") or -1),
            first_valid_sample=_ints(b.find("firstValidSample")),
            last_valid_sample=_ints(b.find("lastValidSample")),
            burst_id=int(bid) if bid and bid.strip().isdigit() else None,
        ))
    return SwathTiming(int(st.findtext("linesPerBurst") or 0),
                       int(st.findtext("samplesPerBurst") or 0), tuple(bursts))


def parse_noise(root: ET.Element) -> dict[str, Any]:
    """Noise range vectors and every azimuth block of a noise XML.

    (xarray-sentinel keeps only the first azimuth block, one of three in a GRD.)
    """
    rng = root.findall(".//noiseRangeVectorList/noiseRangeVector")
    if not rng:  # IPF < 2.9 had a single noiseVectorList
        rng = root.findall(".//noiseVectorList/noiseVector")
    times = [np.datetime64(v.findtext("azimuthTime", "").strip(), "ns") for v in rng]
    lines = [int(v.findtext("line") or 0) for v in rng]
    pixels = [_ints(v.find("pixel")) for v in rng]
    luts = [_floats(v.find("noiseRangeLut") if v.find("noiseRangeLut") is not None
                    else v.find("noiseLut")) for v in rng]
    blocks = []
    for v in root.findall(".//noiseAzimuthVectorList/noiseAzimuthVector"):
        blocks.append({
            "swath": (v.findtext("swath") or "").strip(),
            "first_azimuth_line": int(v.findtext("firstAzimuthLine") or 0),
            "last_azimuth_line": int(v.findtext("lastAzimuthLine") or 0),
            "first_range_sample": int(v.findtext("firstRangeSample") or 0),
            "last_range_sample": int(v.findtext("lastRangeSample") or 0),
            "line": _ints(v.find("line")),
            "lut": _floats(v.find("noiseAzimuthLut")),
        })
    return {"azimuth_time": times, "line": lines, "pixel": pixels, "lut": luts,
            "azimuth_blocks": blocks}


def check_measurement(container: Container, rel: str, verify_zip: bool = True) -> None:
    """Detect a truncated/corrupt measurement TIFF before anything is computed.

    Reads the first and the last block of the TIFF (a truncated file loses its
    tail); for zips also checks the CRC of the member (reads it once, cached).
    """
    if not container.exists(rel):
        raise CorruptProductError(f"{container.path.name}: the measurement {rel} listed in "
                                  "manifest.safe is missing (incomplete download?)")
    if container.is_zip and verify_zip:
        stat = container.path.stat()
        _verify_zip_member(str(container.path.resolve()), stat.st_size, stat.st_mtime_ns,
                           container.member(rel))
    path = container.gdal_path(rel)
    try:
        with rasterio.open(path) as src:
            bh, bw = src.block_shapes[0]
            h, w = src.height, src.width
            src.read(1, window=Window(0, 0, min(bw, w), min(bh, h)))
            r0, c0 = ((h - 1) // bh) * bh, ((w - 1) // bw) * bw
            src.read(1, window=Window(c0, r0, w - c0, h - r0))
    except RasterioIOError as exc:
        raise CorruptProductError(f"{container.path.name}: the measurement {rel} is truncated "
                                  f"or corrupt ({exc}); download the product again") from exc


@functools.lru_cache(maxsize=64)
def _verify_zip_member(path: str, size: int, mtime_ns: int, member: str) -> None:
    try:
        with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
            while fh.read(1 << 22):
                pass
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise CorruptProductError(f"{Path(path).name}: {member}: {exc}; the archive is "
                                  "corrupt, download it again") from exc


def files_for(manifest: Manifest, container: Container, swath: str, pol: str
              ) -> dict[str, str]:
    """Relative paths of the files of one swath × polarisation that are present."""
    out = {}
    for kind in ("annotation", "calibration", "noise", "measurement"):
        rel = manifest.files.get((kind, swath, pol))
        if rel is not None and container.exists(rel):
            out[kind] = rel
    return out


