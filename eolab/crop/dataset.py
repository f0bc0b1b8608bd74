"""Readers of crop training data: TimeSen2Crop-format folders and the UCR "Crop" series.

TimeSen2Crop layout (Weikmann et al. 2021)::

    <root>/<tile>/dates.csv              header ``acquisition_date``, one YYYYMMDD per row
    <root>/<tile>/<class 0-15>/<i>.csv   header ``B1,...,B9,Flag``, one row per date

``B1``–``B9`` are L2A reflectance × 10000 of B02, B03, B04, B05, B06, B07,
B8A, B11 and B12; ``Flag`` is 0 clear, 1 cloud, 2 shadow, 3 snow. Every tile
has its own acquisition dates: :func:`read_timesen2crop` puts all samples on
the sorted union of the dates of the tiles read (NaN where a tile has no
acquisition), or, with ``monthly=True``, on 12 monthly medians of the clear
observations, the shape the crop model sees on a composite cube.

:func:`read_ucr_crop` reads the UCR archive's ``Crop`` series (46-step NDVI,
24 classes), :func:`deduplicate` drops repeated series and
:func:`holdout_split` draws the fixed, seeded held-out fraction used to
score classifiers on it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from eolab.errors import DatasetFormatError

__all__ = [
    "BAND_COLUMNS",
    "CLASS_NAMES",
    "FLAG_MEANINGS",
    "S2_BANDS",
    "CropSamples",
    "TimeSen2CropDataset",
    "deduplicate",
    "holdout_split",
    "monthly_medians",
    "read_timesen2crop",
    "read_ucr_crop",
]

#: Column names of the band values in a TimeSen2Crop sample file.
BAND_COLUMNS: tuple[str, ...] = tuple(f"B{i}" for i in range(1, 10))
#: The Sentinel-2 bands behind ``B1``–``B9``.
S2_BANDS: tuple[str, ...] = ("B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12")
#: ``Flag`` values of a TimeSen2Crop sample file.
FLAG_MEANINGS: dict[int, str] = {0: "clear", 1: "cloud", 2: "shadow", 3: "snow"}
#: TimeSen2Crop class ids and names.
CLASS_NAMES: dict[int, str] = {
    0: "Legumes", 1: "Grassland", 2: "Maize", 3: "Potato", 4: "Sunflower", 5: "Soy",
    6: "Winter barley", 7: "Winter caraway", 8: "Rye", 9: "Rapeseed", 10: "Beet",
    11: "Spring cereals", 12: "Winter wheat", 13: "Winter triticale",
    14: "Permanent plantation", 15: "Other crops",
}
_HEADER = ",".join(BAND_COLUMNS) + ",Flag"
_FLAG_MODES = ("nan", "keep")


@dataclass(frozen=True)
class CropSamples:
    """Labelled sequences read from a training dataset.

    Attributes
    ----------
    x
        float32 ``(samples, time, bands)`` reflectance (0–1 for TimeSen2Crop);
        NaN where there is no observation (no acquisition on that tile, or a
        flagged one when read with ``flags="nan"``, or an empty month).
    y
        int64 ``(samples,)`` class ids.
    time
        ``datetime64[D]`` acquisition dates, or the first day of each month
        of the season with ``monthly=True``.
    bands
        Band names along the last axis.
    flags
        uint8 ``(samples, time)``: the file's ``Flag`` (0–3), 255 where the
        sample's tile has no acquisition; None for monthly data.
    tiles
        ``(samples,)`` tile name of every sample.
    """

    x: np.ndarray
    y: np.ndarray
    time: np.ndarray
    bands: tuple[str, ...]
    flags: np.ndarray | None
    tiles: np.ndarray

    def __len__(self) -> int:
        return int(self.y.size)


class TimeSen2CropDataset(Dataset[tuple[torch.Tensor, int]]):
    """A ``torch.utils.data.Dataset`` of ``(sequence (time, bands) float32 tensor, class id)``.

    Parameters
    ----------
    source
        A :class:`CropSamples` or a TimeSen2Crop-format folder (read with
        :func:`read_timesen2crop` and the keyword arguments given).
    """

    def __init__(self, source: CropSamples | str | os.PathLike[str], **read_options: object
                 ) -> None:
        samples = (source if isinstance(source, CropSamples)
                   else read_timesen2crop(source, **read_options))  # type: ignore[arg-type]
        self.samples = samples
        self._x = torch.from_numpy(np.ascontiguousarray(samples.x, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self._x[index], int(self.samples.y[index])


def _parse_dates(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DatasetFormatError(f"{path}: missing; every TimeSen2Crop tile folder needs a "
                                 "dates.csv (header 'acquisition_date', YYYYMMDD rows)")
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if not lines or lines[0].lower() != "acquisition_date":
        raise DatasetFormatError(f"{path}: header must be 'acquisition_date', found "
                                 f"{lines[0]!r}" if lines else f"{path}: empty file")
    try:
        dates = np.array([f"{s[:4]}-{s[4:6]}-{s[6:8]}" for s in lines[1:]], dtype="datetime64[D]")
        if any(len(s) != 8 or not s.isdigit() for s in lines[1:]):
            raise ValueError
    except ValueError:
        raise DatasetFormatError(f"{path}: dates must be YYYYMMDD, e.g. 20171005") from None
    if dates.size == 0:
        raise DatasetFormatError(f"{path}: no acquisition dates")
    if np.any(np.diff(dates) <= np.timedelta64(0, "D")):
        raise DatasetFormatError(f"{path}: dates are not strictly increasing")
    return dates


def _parse_sample(path: Path, n_dates: int) -> np.ndarray:
    text = path.read_text()
    header, _, body = text.partition("\n")
    if header.strip().replace(" ", "") != _HEADER:
        raise DatasetFormatError(f"{path}: header must be {_HEADER!r}, found {header.strip()!r}")
    rows = [ln for ln in body.splitlines() if ln.strip()]
    if len(rows) != n_dates:
        raise DatasetFormatError(f"{path}: {len(rows)} rows but the tile's dates.csv lists "
                                 f"{n_dates} dates")
    try:
        values = np.array([r.split(",") for r in rows], dtype=np.float64)
    except ValueError:
        raise DatasetFormatError(f"{path}: every row needs 10 numbers (B1..B9, Flag)") from None
    if values.ndim != 2 or values.shape[1] != 10:
        raise DatasetFormatError(f"{path}: every row needs 10 numbers (B1..B9, Flag)")
    flags = values[:, 9]
    if not np.all(np.isin(flags, list(FLAG_MEANINGS))):
        raise DatasetFormatError(f"{path}: Flag must be 0 (clear), 1 (cloud), 2 (shadow) or "
                                 f"3 (snow), found {sorted(set(flags.tolist()) - set(FLAG_MEANINGS))}")
    return values


def _tile_folders(root: Path, tiles: Sequence[str] | None) -> list[Path]:
    if not root.is_dir():
        raise DatasetFormatError(f"{root}: not a folder; expected a TimeSen2Crop-format dataset "
                                 "(<root>/<tile>/dates.csv and <root>/<tile>/<class>/<i>.csv)")
    found = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if tiles is not None:
        names = {p.name for p in found}
        missing = [t for t in tiles if t not in names]
        if missing:
            raise DatasetFormatError(f"{root}: no tile folder(s) {missing}; found "
                                     f"{sorted(names)}")
        found = [root / t for t in tiles]
    found = [p for p in found if tiles is not None or (p / "dates.csv").exists()]
    if not found:
        raise DatasetFormatError(f"{root}: no tile folder with a dates.csv; expected "
                                 "<root>/<tile>/dates.csv and <root>/<tile>/<class 0-15>/<i>.csv")
    return found


def _read_tile(tile: Path, classes: set[int] | None, max_per_class: int | None
               ) -> tuple[np.ndarray, list[np.ndarray], list[int]]:
    dates = _parse_dates(tile / "dates.csv")
    arrays: list[np.ndarray] = []
    labels: list[int] = []
    for sub in sorted(p for p in tile.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not sub.name.isdigit() or int(sub.name) not in CLASS_NAMES:
            raise DatasetFormatError(f"{sub}: class folders must be named 0-15 (the "
                                     "TimeSen2Crop class ids)")
        cls = int(sub.name)
        if classes is not None and cls not in classes:
            continue
        files = sorted((p for p in sub.glob("*.csv")),
                       key=lambda p: (int(p.stem) if p.stem.isdigit() else 1 << 62, p.name))
        for f in files[:max_per_class]:
            arrays.append(_parse_sample(f, dates.size))
            labels.append(cls)
    return dates, arrays, labels


def monthly_medians(x: np.ndarray, time: np.ndarray, *, season_start: int = 9,
                    fill: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Median per calendar month of ``x`` ``(samples, time, bands)``, NaNs ignored.

    Parameters
    ----------
    x, time
        Observations (NaN = missing) and their dates.
    season_start
        Month (1–12) that comes first: 9 gives September … August, the
        TimeSen2Crop season. Months of different years fall into one step.
    fill
        Fill months without any observation by linear interpolation in time
        between the nearest filled months (the nearest one at either end).

    Returns
    -------
    (medians, months)
        float32 ``(samples, 12, bands)`` and the first day of each month
        (``datetime64[D]``) of the season that starts in the first date's year
        or the year before.
    """
    if not 1 <= season_start <= 12:
        raise ValueError(f"season_start must be a month 1-12, got {season_start}")
    months = time.astype("datetime64[M]").astype(int) % 12 + 1
    step = (months - season_start) % 12
    out = np.full((x.shape[0], 12, x.shape[2]), np.nan, dtype=np.float32)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)       # all-NaN months
        for s in range(12):
            sel = step == s
            if sel.any():
                out[:, s] = np.nanmedian(x[:, sel], axis=1)
    if fill:
        out = _fill_gaps(out)
    first = time.min().astype("datetime64[M]").astype(int)
    y0 = first // 12 + 1970 - (1 if first % 12 + 1 < season_start else 0)
    start = np.datetime64(f"{y0:04d}-{season_start:02d}", "M")
    return out, (start + np.arange(12)).astype("datetime64[D]")


def _fill_gaps(x: np.ndarray) -> np.ndarray:
    """Linear interpolation along axis 1 of NaN steps; all-NaN series stay NaN."""
    out = x.copy()
    t = np.arange(x.shape[1], dtype=np.float64)
    flat = out.transpose(0, 2, 1).reshape(-1, x.shape[1])
    ok = np.isfinite(flat)
    for i in np.flatnonzero(~ok.all(axis=1) & ok.any(axis=1)):
        flat[i] = np.interp(t, t[ok[i]], flat[i, ok[i]])
    return flat.reshape(x.shape[0], x.shape[2], x.shape[1]).transpose(0, 2, 1).astype(x.dtype)


def read_timesen2crop(root: str | os.PathLike[str], *, tiles: Sequence[str] | None = None,
                      flags: str = "nan", classes: Sequence[int] | None = None,
                      max_per_class: int | None = None, monthly: bool = False,
                      season_start: int = 9, progress: bool = False) -> CropSamples:
    """Read a TimeSen2Crop-format folder into ``(samples, time, bands)`` arrays and labels.

    Parameters
    ----------
    root
        The dataset folder (``<root>/<tile>/dates.csv``, ``<root>/<tile>/<class>/<i>.csv``).
    tiles
        Tile folders to read (default: every sub-folder with a ``dates.csv``).
    flags
        ``"nan"`` (default): observations flagged cloud, shadow or snow (1–3)
        become NaN; ``"keep"``: their values are kept (the flags are in
        :attr:`CropSamples.flags` as a mask).
    classes
        Class ids to read (default all).
    max_per_class
        Read at most this many samples per class and tile (files in numeric order).
    monthly
        Return 12 monthly medians of the (unflagged) observations instead of
        the acquisitions, gaps filled by interpolation (see :func:`monthly_medians`).
    season_start
        First month of the monthly steps (9 = September).
    progress
        Show a progress bar over tiles.

    Returns
    -------
    CropSamples
        Reflectances in 0–1 (the files' values / 10000), class ids, dates.

    Raises
    ------
    DatasetFormatError
        The folder, a ``dates.csv``, a class folder or a sample file does not
        follow the TimeSen2Crop layout (the message names the file), or
        nothing was read.
    """
    if flags not in _FLAG_MODES:
        raise ValueError(f"flags must be one of {_FLAG_MODES}, got {flags!r}")
    from tqdm.auto import tqdm

    root = Path(root)
    wanted = None if classes is None else {int(c) for c in classes}
    per_tile = []
    for tile in tqdm(_tile_folders(root, tiles), desc="tiles", disable=not progress):
        dates, arrays, labels = _read_tile(tile, wanted, max_per_class)
        if arrays:
            per_tile.append((tile.name, dates, np.stack(arrays), np.asarray(labels)))
    if not per_tile:
        raise DatasetFormatError(f"{root}: no sample files (<tile>/<class 0-15>/<i>.csv) found")
    union = np.unique(np.concatenate([d for _, d, _, _ in per_tile]))
    n = sum(a.shape[0] for _, _, a, _ in per_tile)
    x = np.full((n, union.size, len(BAND_COLUMNS)), np.nan, dtype=np.float32)
    flag_arr = np.full((n, union.size), 255, dtype=np.uint8)
    y = np.empty(n, dtype=np.int64)
    tile_names = np.empty(n, dtype=object)
    i = 0
    for name, dates, values, tile_labels in per_tile:
        cols = np.searchsorted(union, dates)
        k = values.shape[0]
        block = (values[:, :, :9] / 10000.0).astype(np.float32)
        f = values[:, :, 9].astype(np.uint8)
        if flags == "nan":
            block[f > 0] = np.nan
        x[i:i + k, cols] = block
        flag_arr[i:i + k, cols] = f
        y[i:i + k] = tile_labels
        tile_names[i:i + k] = name
        i += k
    if monthly:
        x, union = monthly_medians(x, union, season_start=season_start)
        return CropSamples(x=x, y=y, time=union, bands=S2_BANDS, flags=None, tiles=tile_names)
    return CropSamples(x=x, y=y, time=union, bands=S2_BANDS, flags=flag_arr, tiles=tile_names)


def read_ucr_crop(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read a UCR-archive ``Crop`` file (``Crop_TRAIN.tsv`` / ``Crop_TEST.tsv``).

    Parameters
    ----------
    path
        Tab- (or comma-) separated text, no header: the class label, then the
        series values (46 NDVI steps for Crop). ``NaN`` marks a missing value.

    Returns
    -------
    (x, y)
        float32 ``(series, time, 1)`` and int64 labels as in the file.

    Raises
    ------
    DatasetFormatError
        The file is missing, empty, ragged, non-numeric or has non-integer labels.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetFormatError(f"{path}: no such UCR file (e.g. Crop_TRAIN.tsv)")
    text = path.read_text()
    rows = [r.replace(",", "\t").split() for r in text.splitlines() if r.strip()]
    if not rows:
        raise DatasetFormatError(f"{path}: empty UCR file")
    if len({len(r) for r in rows}) != 1 or len(rows[0]) < 3:
        raise DatasetFormatError(f"{path}: rows must all have a label and the same number "
                                 "(>= 2) of values")
    try:
        data = np.array(rows, dtype=np.float64)
    except ValueError:
        raise DatasetFormatError(f"{path}: UCR rows must be numbers (label, values...)") from None
    labels = data[:, 0]
    if not np.all(np.isfinite(labels) & (labels == np.round(labels))):
        raise DatasetFormatError(f"{path}: the first column (class label) must be integers")
    return data[:, 1:, None].astype(np.float32), labels.astype(np.int64)


def deduplicate(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keep the first occurrence of every distinct series (NaNs compare equal).

    Returns ``(x, y, index)`` with ``index`` the kept positions in input order.
    Raises :class:`DatasetFormatError` when copies of one series carry
    different labels.
    """
    flat = np.ascontiguousarray(np.nan_to_num(x.reshape(x.shape[0], -1), nan=np.inf))
    _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if np.any(y != y[first][inverse]):
        raise DatasetFormatError("identical series carry different labels; cannot deduplicate")
    keep = np.sort(first)
    return x[keep], y[keep], keep


def holdout_split(n: int, *, fraction: float = 0.2, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Fixed, seeded split of ``n`` items: ``(train, held_out)`` sorted index arrays.

    ``held_out`` is the first ``floor(n * fraction)`` items of
    ``numpy.random.default_rng(seed).permutation(n)``.
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    perm = np.random.default_rng(seed).permutation(n)
    k = int(n * fraction)
    return np.sort(perm[k:]), np.sort(perm[:k])
