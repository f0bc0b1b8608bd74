"""Sigma0 of GRD products on a map grid, and S1-CD without coherence.

The real GRD of ``../shared/realdata/s1_safe_sarsen`` has real metadata but
placeholder (zero) pixels: its geolocation is checked against the orbit.
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
import shapely

from eolab.cli import main
from eolab.errors import AOIError, ProductTypeError
from eolab.io.sentinel1 import open_grd
from eolab.s1.geocode import map_grid
from eolab.s1.geometry import ground_to_radar, orbit_from_dataset
from eolab.s1.grd import grd_coordinates, grd_to_map
from eolab.samples.build import S1_PRODUCTS

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

GRD = "S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE"


@pytest.fixture(scope="module")
def grd_tree(realdata):
    return open_grd(realdata / "s1_safe_sarsen" / GRD, verify=False)


def test_grd_coordinates__lines_agree_with_the_orbit(grd_tree):
    gcp = grd_tree["gcp"].to_dataset()
    i, j = gcp.sizes["gcp_line"] // 2, gcp.sizes["gcp_pixel"] // 2
    lon = float(gcp["longitude"][i, j] + gcp["longitude"][i + 1, j + 1]) / 2
    lat = float(gcp["latitude"][i, j] + gcp["latitude"][i + 1, j + 1]) / 2
    aoi = shapely.box(lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02)
    grid = map_grid(aoi, resolution=20)
    coords = grd_coordinates(grid, gcp)
    line = coords["line"].values
    assert np.isfinite(line).all()
    # the pixel centre nearest to (lon, lat): its line from the zero-Doppler time of the orbit
    import pyproj

    x, y = pyproj.Transformer.from_crs(4326, grid.rio.crs, always_xy=True).transform(lon, lat)
    r, c = int(np.abs(grid.y.values - y).argmin()), int(np.abs(grid.x.values - x).argmin())
    glon, glat = pyproj.Transformer.from_crs(grid.rio.crs, 4326, always_xy=True).transform(
        grid.x.values[c], grid.y.values[r])
    orbit = orbit_from_dataset(grd_tree["orbit"].to_dataset())
    h = float(gcp["height"][i : i + 2, j : j + 2].mean())
    t0 = gcp["azimuth_time"].values[0, 0]
    rc = ground_to_radar(orbit, glon, glat, h, t_guess=t0)
    dt = float(grd_tree["image"].to_dataset()["measurement"].attrs["azimuth_time_interval"])
    expected = (float(rc.azimuth_time) - float(orbit.seconds(t0))) / dt + float(gcp["line"][0])
    assert abs(line[r, c] - expected) < 1.5, (line[r, c], expected)
    # pixels grow along range: for this ascending/right-looking pass, eastwards
    assert np.all(np.diff(coords["pixel"].values[r]) != 0)


def test_grd_to_map__placeholder_pixels_give_a_clear_error(realdata):
    path = realdata / "s1_safe_sarsen" / GRD
    gcp_lon, gcp_lat = 12.5, 42.0
    aoi = shapely.box(gcp_lon - 0.05, gcp_lat - 0.05, gcp_lon + 0.05, gcp_lat + 0.05)
    try:
        da = grd_to_map(path, aoi=aoi)
    except AOIError:
        pytest.skip("the test AOI is outside this GRD")
    assert da.dtype == np.float32 and da.rio.crs is not None
    assert np.isnan(da.values).all()  # every DN is 0 (no data) in this placeholder product


def test_s1cd__grd_needs_no_coherence(realdata, samples_dir, tmp_path):
    from eolab.workflows import s1_change_detection

    grd = realdata / "s1_safe_sarsen" / GRD
    slc = samples_dir / f"{S1_PRODUCTS[0]}.zip"
    with pytest.raises(ProductTypeError, match="sigma0 and ACD still work"):
        s1_change_detection(slc, grd, aoi="POLYGON((12 41, 13 41, 13 42, 12 42, 12 41))",
                            outdir=tmp_path)
    assert not any(tmp_path.iterdir())


def test_cli_s1cd__no_coherence_writes_sigma0_and_acd(samples_dir, tmp_path):
    p1, p2 = (samples_dir / f"{n}.zip" for n in S1_PRODUCTS)
    aoi = "POLYGON((150.70 -33.60, 150.76 -33.60, 150.76 -33.65, 150.70 -33.65, 150.70 -33.60))"
    assert main(["S1-CD", "-i1", str(p1), "-i2", str(p2), "-p", aoi, "--no-coherence",
                 "--dem", str(samples_dir / "dem.tif"), "--flood", "-q",
                 "-outdir", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["S1_ACD_20210312_20210324_VV_20.tif", "S1_FLOOD_20210312_20210324_VV_20.tif",
                     "S1_SIGMA0_20210312_VV_20.tif", "S1_SIGMA0_20210324_VV_20.tif"]
    with rasterio.open(tmp_path / "S1_ACD_20210312_20210324_VV_20.tif") as src:
        assert src.count == 3 and (src.read(1) > 0).mean() > 0.5
