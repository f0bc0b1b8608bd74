"""``eolab crop composites`` and ``eolab crop train`` on small hand-made inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from eolab.cli import main
from eolab.crop.model import load
from eolab.crop.timeseries import cube_dataset, write_cube


def test_crop_composites__median_of_clear_observations(tmp_path, capsys):
    times = pd.to_datetime(["2018-01-05", "2018-01-15", "2018-01-25", "2018-03-10"])
    refl = np.zeros((4, 2, 3, 3), np.float32)
    refl[:, 0] = np.array([0.1, 0.2, 0.9, 0.4])[:, None, None]  # band B04
    refl[:, 1] = 0.5
    scl = np.full((4, 3, 3), 4, np.int8)  # vegetation: clear
    scl[2] = 9  # the bright 25 January is cloud (high probability)
    cube = cube_dataset(refl, scl, times=times, bands=["B04", "B08"],
                        x=500_000 + 10 * np.arange(3), y=5_300_000 - 10 * np.arange(3),
                        crs="EPSG:32633")
    write_cube(cube, tmp_path / "cube.nc")
    out = tmp_path / "composites.nc"
    assert main(["crop", "composites", "--cube", str(tmp_path / "cube.nc"), "-o", str(out),
                 "--bands", "B04"]) == 0
    with xr.open_dataset(out) as ds:
        var = next(v for v in ds.data_vars if "month" in ds[v].dims and "band" in ds[v].dims)
        values = ds[var].sel(band="B04").values[:, 0, 0]
        assert ds.sizes["month"] == 3 and list(ds["band"].values) == ["B04"]
        np.testing.assert_allclose(values[0], 0.15, atol=1e-4)  # median of 0.1, 0.2 (cloud out)
        np.testing.assert_allclose(values[2], 0.4, atol=1e-4)
        assert bool(ds["filled"].values[1, 0, 0]) and not bool(ds["filled"].values[0, 0, 0])
    assert "filled by interpolation" in capsys.readouterr().out
    assert main(["crop", "composites", "--cube", str(tmp_path / "cube.nc"), "-o", str(out),
                 "--bands", "B02"]) == 1


def _ts2c(root, rng):
    tile = root / "33UVP"
    tile.mkdir(parents=True)
    dates = pd.date_range("2017-09-10", periods=24, freq="15D")
    (tile / "dates.csv").write_text("acquisition_date\n" + "".join(
        f"{d:%Y%m%d}\n" for d in dates))
    for cls, level in ((1, 1500), (2, 4500)):
        (tile / str(cls)).mkdir()
        for i in range(40):
            dn = rng.normal(level, 200, (24, 9)).round().astype(int)
            flag = np.zeros((24, 1), int)
            table = pd.DataFrame(np.hstack([dn, flag]),
                                 columns=[f"B{k}" for k in range(1, 10)] + ["Flag"])
            table.to_csv(tile / str(cls) / f"{i}.csv", index=False)


def test_crop_train__writes_a_model_that_loads(tmp_path):
    _ts2c(tmp_path / "ts2c", np.random.default_rng(0))
    out = tmp_path / "model"
    assert main(["crop", "train", "--data", str(tmp_path / "ts2c"), "--out", str(out),
                 "--epochs", "3", "--device", "cpu", "-q"]) == 0
    model = load(out)
    assert list(model.labels) == [1, 2] and model.n_steps == 12
    assert main(["crop", "train", "--data", str(tmp_path / "nowhere"), "--out",
                 str(tmp_path / "m2"), "-q"]) == 1
