"""TimeSen2Crop-format reader, the torch Dataset, and the UCR Crop reader, on small folders
written here in the real layout (values chosen so that every number read back is known)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from eolab.crop.dataset import (
    CLASS_NAMES,
    S2_BANDS,
    CropSamples,
    TimeSen2CropDataset,
    deduplicate,
    holdout_split,
    monthly_medians,
    read_timesen2crop,
    read_ucr_crop,
)
from eolab.errors import DatasetFormatError, EolabError

HEADER = "B1,B2,B3,B4,B5,B6,B7,B8,B9,Flag"


def _value(tile: int, cls: int, i: int, t: int, band: int) -> int:
    """Known DN of a sample: encodes tile, class, sample, date and band."""
    return 1000 * tile + 100 * cls + 10 * i + t + band


def _write_tile(root: Path, name: str, dates: list[str], samples: dict[int, int],
                tile_no: int, flags: dict[tuple[int, int, int], int] | None = None) -> None:
    tile = root / name
    tile.mkdir(parents=True)
    (tile / "dates.csv").write_text("acquisition_date\n" + "\n".join(dates) + "\n")
    flags = flags or {}
    for cls, n in samples.items():
        (tile / str(cls)).mkdir()
        for i in range(n):
            rows = [HEADER]
            for t in range(len(dates)):
                vals = [_value(tile_no, cls, i, t, b) for b in range(9)]
                rows.append(",".join(map(str, vals + [flags.get((cls, i, t), 0)])))
            (tile / str(cls) / f"{i}.csv").write_text("\n".join(rows) + "\n")


@pytest.fixture()
def ts2c(tmp_path: Path) -> Path:
    root = tmp_path / "TimeSen2Crop"
    _write_tile(root, "33UVP", ["20170905", "20171015", "20180110"], {0: 2, 12: 1}, 1,
                flags={(0, 1, 1): 1, (12, 0, 2): 3})
    _write_tile(root, "33TWN", ["20170905", "20171101"], {2: 2}, 2)
    return root


def test_read__all_tiles_union_of_dates(ts2c):
    s = read_timesen2crop(ts2c)
    assert isinstance(s, CropSamples)
    assert s.x.shape == (5, 4, 9) and s.x.dtype == np.float32
    assert s.bands == S2_BANDS
    np.testing.assert_array_equal(
        s.time, np.array(["2017-09-05", "2017-10-15", "2017-11-01", "2018-01-10"],
                         dtype="datetime64[D]"))
    # tiles are read in name order: 33TWN (class 2, 2 samples) then 33UVP
    np.testing.assert_array_equal(s.y, [2, 2, 0, 0, 12])
    assert list(s.tiles) == ["33TWN", "33TWN", "33UVP", "33UVP", "33UVP"]
    # 33TWN sample 1, date 20171101 (its 2nd date, t=1), band 4 → DN 2000+200+10+1+4
    assert s.x[1, 2, 4] == pytest.approx((2000 + 200 + 10 + 1 + 4) / 10000)
    # 33TWN has no acquisition on 20171015 and 20180110: NaN, flag 255
    assert np.isnan(s.x[:2, [1, 3]]).all()
    assert (s.flags[:2, [1, 3]] == 255).all()
    # 33UVP class 0 sample 0, date 20180110 (t=2)
    assert s.x[2, 3, 8] == pytest.approx((1000 + 0 + 0 + 2 + 8) / 10000)


def test_read__flags_to_nan_or_kept(ts2c):
    s = read_timesen2crop(ts2c, tiles=["33UVP"])
    assert s.x.shape == (3, 3, 9)
    # class 0 sample 1 at t=1 is cloud; class 12 sample 0 at t=2 is snow
    assert np.isnan(s.x[1, 1]).all() and s.flags[1, 1] == 1
    assert np.isnan(s.x[2, 2]).all() and s.flags[2, 2] == 3
    assert np.isfinite(s.x[0]).all() and (s.flags[0] == 0).all()
    kept = read_timesen2crop(ts2c, tiles=["33UVP"], flags="keep")
    assert kept.x[1, 1, 0] == pytest.approx((1000 + 0 + 10 + 1 + 0) / 10000)
    assert kept.flags[1, 1] == 1 and np.isfinite(kept.x).all()


def test_read__classes_and_max_per_class(ts2c):
    s = read_timesen2crop(ts2c, classes=[0, 2], max_per_class=1)
    np.testing.assert_array_equal(s.y, [2, 0])


def test_read__monthly(ts2c):
    s = read_timesen2crop(ts2c, tiles=["33UVP"], monthly=True)
    assert s.x.shape == (3, 12, 9) and s.flags is None
    assert s.time[0] == np.datetime64("2017-09-01") and s.time[-1] == np.datetime64("2018-08-01")
    # sample 0 (all clear): Sep = t0, Oct = t1, Jan = t2; Nov, Dec interpolated
    v = [(1000 + t + 3) / 10000 for t in range(3)]
    np.testing.assert_allclose(s.x[0, [0, 1, 4], 3], v, rtol=1e-6)
    np.testing.assert_allclose(s.x[0, [2, 3], 3], [v[1] + (v[2] - v[1]) / 3,
                                                   v[1] + 2 * (v[2] - v[1]) / 3], rtol=1e-6)
    assert s.x[0, 11, 3] == pytest.approx(v[2])         # after the last date: held
    assert np.isfinite(s.x).all()


def test_monthly_medians__median_and_gaps():
    time = np.array(["2018-03-02", "2018-03-20", "2018-03-28", "2018-05-01"],
                    dtype="datetime64[D]")
    x = np.array([[[1.0], [np.nan], [5.0], [7.0]]], dtype=np.float32)
    m, months = monthly_medians(x, time, season_start=3, fill=False)
    assert months[0] == np.datetime64("2018-03-01")
    assert m[0, 0, 0] == 3.0 and np.isnan(m[0, 1, 0]) and m[0, 2, 0] == 7.0
    filled, _ = monthly_medians(x, time, season_start=3)
    assert filled[0, 1, 0] == 5.0


def test_dataset__torch(ts2c):
    ds = TimeSen2CropDataset(ts2c, tiles=["33TWN"])
    assert len(ds) == 2
    x, y = ds[1]
    assert isinstance(x, torch.Tensor) and x.shape == (2, 9) and y == 2
    loader = torch.utils.data.DataLoader(ds, batch_size=2)
    xb, yb = next(iter(loader))
    assert xb.shape == (2, 2, 9) and yb.tolist() == [2, 2]


@pytest.mark.parametrize("breakage, words", [
    ("no_root", "not a folder"),
    ("empty_root", "no tile folder"),
    ("no_dates", "dates.csv"),
    ("bad_date_header", "acquisition_date"),
    ("bad_date", "YYYYMMDD"),
    ("bad_class_folder", "0-15"),
    ("bad_header", "header"),
    ("short_file", "rows"),
    ("bad_flag", "Flag"),
    ("non_numeric", "10 numbers"),
    ("unknown_tile", "no tile folder"),
    ("no_samples", "no sample files"),
])
def test_read__not_timesen2crop_shaped(tmp_path, breakage, words):
    root = tmp_path / "d"
    tiles = None
    if breakage != "no_root":
        root.mkdir()
    if breakage not in ("no_root", "empty_root", "no_samples"):
        _write_tile(root, "T1", ["20171001", "20171101"], {3: 1}, 1)
    sample = root / "T1" / "3" / "0.csv"
    if breakage == "no_dates":
        (root / "T1" / "dates.csv").unlink()
        tiles = ["T1"]
    elif breakage == "bad_date_header":
        (root / "T1" / "dates.csv").write_text("date\n20171001\n20171101\n")
    elif breakage == "bad_date":
        (root / "T1" / "dates.csv").write_text("acquisition_date\n2017-10-01\n20171101\n")
    elif breakage == "bad_class_folder":
        (root / "T1" / "wheat").mkdir()
    elif breakage == "bad_header":
        sample.write_text(sample.read_text().replace("Flag", "QA"))
    elif breakage == "short_file":
        sample.write_text("\n".join(sample.read_text().splitlines()[:2]) + "\n")
    elif breakage == "bad_flag":
        sample.write_text(sample.read_text().replace(",0\n", ",7\n", 1))
    elif breakage == "non_numeric":
        sample.write_text(sample.read_text().replace("1300", "abc", 1))
    elif breakage == "unknown_tile":
        tiles = ["33UVP"]
    elif breakage == "no_samples":
        (root / "T1").mkdir(parents=True)
        (root / "T1" / "dates.csv").write_text("acquisition_date\n20171001\n")
    with pytest.raises(DatasetFormatError, match=words) as err:
        read_timesen2crop(root, tiles=tiles)
    assert isinstance(err.value, EolabError)


def test_class_names_cover_0_to_15():
    assert sorted(CLASS_NAMES) == list(range(16))
    assert CLASS_NAMES[12] == "Winter wheat"


# --- UCR ---------------------------------------------------------------------


def test_read_ucr_crop__values_and_labels(tmp_path):
    p = tmp_path / "Crop_TRAIN.tsv"
    p.write_text("3\t0.1\t0.2\t0.3\n1\t-0.5\t0.0\t0.25\n")
    x, y = read_ucr_crop(p)
    assert x.shape == (2, 3, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[1, :, 0], [-0.5, 0.0, 0.25])
    np.testing.assert_array_equal(y, [3, 1])


@pytest.mark.parametrize("text, words", [
    ("", "empty"),
    ("1\t0.1\t0.2\n2\t0.3\n", "same number"),
    ("1.5\t0.1\t0.2\n", "integers"),
    ("1\tx\t0.2\n", "numbers"),
])
def test_read_ucr_crop__bad_file(tmp_path, text, words):
    p = tmp_path / "bad.tsv"
    p.write_text(text)
    with pytest.raises(DatasetFormatError, match=words):
        read_ucr_crop(p)
    with pytest.raises(DatasetFormatError, match="no such"):
        read_ucr_crop(tmp_path / "missing.tsv")


def test_deduplicate__keeps_first_and_refuses_conflicts():
    x = np.array([[1, 2], [3, 4], [1, 2], [5, np.nan], [5, np.nan]], np.float32)[:, :, None]
    y = np.array([1, 2, 1, 3, 3])
    _xd, yd, keep = deduplicate(x, y)
    np.testing.assert_array_equal(keep, [0, 1, 3])
    np.testing.assert_array_equal(yd, [1, 2, 3])
    with pytest.raises(DatasetFormatError, match="different labels"):
        deduplicate(x, np.array([1, 2, 9, 3, 3]))


def test_holdout_split__fixed_disjoint_fifth():
    tr, te = holdout_split(103, seed=0)
    assert te.size == 20 and tr.size == 83
    assert np.intersect1d(tr, te).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(103))
    _tr2, te2 = holdout_split(103, seed=0)
    np.testing.assert_array_equal(te, te2)
    assert not np.array_equal(te, holdout_split(103, seed=1)[1])
