"""The Sentinel-1 reader and calibration on the real product metadata in
``../shared/realdata`` (their pixels are constant placeholders: geometry, LUTs
and burst handling are real, backscatter values are not).

RD1 = S1B IW SLC 2021-04-01 (xarray-sentinel test data, IW1 VV measurement = 2+0j),
RD2 = S1A IW SLC 2022-01-04 (sarsen test data, IW1 VV, all-zero pixels).
"""

from __future__ import annotations

import re
import shutil
import warnings
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
import shapely
import xarray as xr

from eolab.errors import (AOIError, BandError, CorruptProductError, EolabError, ProductError,
                          ProductTypeError)
from eolab.io.sentinel1 import (S1Product, calibrate, check_pair, iter_bursts, match_bursts,
                                open_grd, open_slc, read_s1_metadata, valid_mask)

RD1 = ("s1_safe_xarray_sentinel/"
       "S1B_IW_SLC__1SDV_20210401T052622_20210401T052650_026269_032297_EFA4.SAFE")
RD1_GRD = ("s1_safe_xarray_sentinel/"
           "S1B_IW_GRDH_1SDV_20210401T052623_20210401T052648_026269_032297_ECC8.SAFE")
RD3 = ("s1_safe_xarray_sentinel/"
       "S1A_IW_SLC__1SDH_20220414T102209_20220414T102236_042768_051AA4_E677.SAFE")
RD2 = "s1_safe_sarsen/S1A_IW_SLC__1SDV_20220104T170557_20220104T170624_041314_04E951_F1F1.SAFE"
RD2_GRD = "s1_safe_sarsen/S1B_IW_GRDH_1SDV_20211223T051122_20211223T051147_030148_039993_5371.SAFE"
STEM = "s1b-iw1-slc-vv-20210401t052624-20210401t052649-026269-032297-004"


@pytest.fixture(scope="module")
def rd1(realdata) -> Path:
    return realdata / RD1


@pytest.fixture(scope="module")
def rd1_iw1(rd1) -> xr.DataTree:
    return open_slc(rd1, swaths=["IW1"])


def _xml(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def _floats(text: str) -> np.ndarray:
    return np.array(text.split(), dtype=np.float64)


def _gcp_xml(rd1: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(line, pixel, lat, lon, incidence) of the IW1 VV geolocation grid, read by hand."""
    pts = _xml(rd1 / "annotation" / f"{STEM}.xml").findall(".//geolocationGridPoint")
    get = lambda tag: np.array([float(p.findtext(tag)) for p in pts])  # noqa: E731
    return get("line"), get("pixel"), get("latitude"), get("longitude"), get("incidenceAngle")


# --- metadata -----------------------------------------------------------------------------

def test_read_s1_metadata__rd1_matches_manifest_and_annotation(rd1):
    meta = read_s1_metadata(rd1)
    assert isinstance(meta, S1Product)
    assert (meta.mission, meta.mode, meta.product_type, meta.orbit_pass) == (
        "S1B", "IW", "SLC", "DESCENDING")
    assert (meta.absolute_orbit, meta.relative_orbit, meta.datatake_id) == (26269, 168, 205463)
    assert meta.start_time == "2021-04-01T05:26:22.396989"
    assert meta.stop_time == "2021-04-01T05:26:50.325833"
    assert meta.polarisations == ("VV", "VH")
    assert meta.swaths == ("IW1", "IW2")  # IW3 is listed but its files are not in the copy
    ann = _xml(rd1 / "annotation" / f"{STEM}.xml")
    times = [np.datetime64(e.text, "ns") for e in ann.findall(".//burstList/burst/azimuthTime")]
    assert meta.burst_count["IW1"] == int(ann.find(".//burstList").get("count")) == 9
    assert list(meta.burst_times["IW1"]) == times
    assert meta.lines_per_burst["IW1"] == 1501
    iw2 = _xml(next((rd1 / "annotation").glob("s1b-iw2-slc-vh-*.xml")))
    assert meta.burst_count["IW2"] == int(iw2.find(".//burstList").get("count"))


def test_read_s1_metadata__other_products(realdata):
    grd = read_s1_metadata(realdata / RD1_GRD)
    assert (grd.product_type, grd.relative_orbit, grd.absolute_orbit) == ("GRD", 168, 26269)
    assert grd.burst_count == {"IW": 0}
    sdh = read_s1_metadata(realdata / RD3)
    assert sdh.polarisations == ("HH", "HV") and sdh.relative_orbit == 171
    rd2 = read_s1_metadata(realdata / RD2)
    assert (rd2.mission, rd2.relative_orbit, rd2.orbit_pass) == ("S1A", 117, "ASCENDING")
    assert rd2.burst_ids["IW1"][0] == 249402 and len(rd2.burst_ids["IW1"]) == 9
    assert read_s1_metadata(realdata / RD2_GRD).relative_orbit == 22


# --- bursts, attrs, AOI --------------------------------------------------------------------

def test_open_slc__burst_layout_and_attrs(rd1_iw1, rd1):
    assert rd1_iw1.attrs["relative_orbit"] == 168 and rd1_iw1.attrs["polarisation"] == "VV"
    assert rd1_iw1["IW1"].attrs["selected_bursts"] == list(range(9))
    for name in ("orbit", "gcp", "calibration", "noise", "azimuth_fm_rate", "dc_estimate"):
        assert name in rd1_iw1["IW1"].children
    burst = rd1_iw1["IW1/3"].dataset["measurement"]
    assert burst.shape == (1501, 21632) and burst.dtype == np.complex64
    assert burst.dims == ("azimuth_time", "slant_range_time")
    assert burst.chunks is not None  # lazy
    assert int(burst.line[0]) == 3 * 1501 and int(burst.pixel[-1]) == 21631
    ann = _xml(rd1 / "annotation" / f"{STEM}.xml")
    xml_burst = ann.findall(".//burstList/burst")[3]
    first = np.array(xml_burst.findtext("firstValidSample").split(), dtype=int)
    last = np.array(xml_burst.findtext("lastValidSample").split(), dtype=int)
    np.testing.assert_array_equal(burst.first_valid_sample.values, first)
    np.testing.assert_array_equal(burst.last_valid_sample.values, last)
    ok = np.flatnonzero(first >= 0)
    a = burst.attrs
    assert (a["first_valid_line"], a["last_valid_line"]) == (ok[0], ok[-1])
    assert a["burst_index"] == 3 and a["swath"] == "IW1" and a["burst_id"] == -1
    assert a["burst_start_time"].startswith(xml_burst.findtext("azimuthTime"))
    assert a["radar_frequency_hz"] == pytest.approx(
        float(ann.findtext(".//productInformation/radarFrequency")))
    assert a["azimuth_steering_rate"] == pytest.approx(1.590368784)
    assert a["azimuth_time_interval"] == pytest.approx(
        float(ann.findtext(".//imageInformation/azimuthTimeInterval")))
    assert a["range_sampling_rate"] == pytest.approx(64345238.12571428)
    assert a["slant_range_time"] == pytest.approx(
        float(ann.findtext(".//imageInformation/slantRangeTime")))
    # FM rate and Doppler polynomials nearest the burst mid time
    mid = np.datetime64(a["burst_mid_time"])
    fm = ann.findall(".//azimuthFmRateList/azimuthFmRate")
    k = int(np.argmin([abs(np.datetime64(e.findtext("azimuthTime"), "ns") - mid) for e in fm]))
    np.testing.assert_allclose(a["azimuth_fm_rate_polynomial"],
                               _floats(fm[k].findtext("azimuthFmRatePolynomial")))
    dc = ann.findall(".//dcEstimateList/dcEstimate")
    k = int(np.argmin([abs(np.datetime64(e.findtext("azimuthTime"), "ns") - mid) for e in dc]))
    np.testing.assert_allclose(a["dc_polynomial"], _floats(dc[k].findtext("dataDcPolynomial")))
    mask = valid_mask(burst)
    assert mask.shape == burst.shape
    assert not bool(mask[0].any()) and int(mask[ok[0]].sum()) == last[ok[0]] - first[ok[0]] + 1


def test_open_slc__burst_ids_of_recent_ipf(realdata):
    tree = open_slc(realdata / RD2)
    assert tree["IW1/0"].dataset["measurement"].attrs["burst_id"] == 249402
    assert [b.attrs["burst_index"] for b in iter_bursts(tree)] == list(range(9))


def _aoi_in_burst(rd1: Path, burst: int, half: float = 0.01) -> shapely.Polygon:
    """A small box around the middle of a burst, from the product's own GCPs."""
    line, pixel, lat, lon, _ = _gcp_xml(rd1)
    rows = np.unique(line)
    cols = np.unique(pixel)
    sel = lambda r: (line == rows[r]) & (pixel == cols[10])  # noqa: E731
    x = (lon[sel(burst)][0] + lon[sel(burst + 1)][0]) / 2
    y = (lat[sel(burst)][0] + lat[sel(burst + 1)][0]) / 2
    return shapely.box(x - half, y - half, x + half, y + half)


def test_open_slc__aoi_in_burst_3_selects_burst_3(rd1):
    tree = open_slc(rd1, swaths=["IW1"], aoi=_aoi_in_burst(rd1, 3))
    assert tree["IW1"].attrs["selected_bursts"] == [3]
    assert [b.attrs["burst_index"] for b in iter_bursts(tree)] == [3]
    fp = shapely.from_wkt(tree["IW1/3"].attrs["footprint_wkt"])
    assert fp.contains(_aoi_in_burst(rd1, 3))


def test_open_slc__aoi_across_a_burst_seam_selects_both(rd1):
    line, pixel, lat, lon, _ = _gcp_xml(rd1)
    on_seam = (line == 4503 + 1501) & (pixel == np.unique(pixel)[10])  # burst 4 start row
    x, y = lon[on_seam][0], lat[on_seam][0]
    tree = open_slc(rd1, swaths=["IW1"], aoi=shapely.box(x - 0.01, y - 0.01, x + 0.01, y + 0.01))
    assert tree["IW1"].attrs["selected_bursts"] == [3, 4]


def test_open_slc__aoi_far_away(rd1):
    with pytest.raises(AOIError, match="misses every VV burst"):
        open_slc(rd1, swaths=["IW1"], aoi=(150.6, -33.8, 150.9, -33.5))


def test_open_slc__missing_swath_files(rd1):
    with pytest.warns(UserWarning, match="IW2 VV"):
        tree = open_slc(rd1, aoi=_aoi_in_burst(rd1, 3))
    assert list(tree.children) == ["IW1"]
    with pytest.raises(CorruptProductError, match="IW2 VV"):
        open_slc(rd1, swaths=["IW2"])


def test_open_slc__vh_and_unknown_polarisation(rd1):
    tree = open_slc(rd1, pol="vh", swaths=["IW1"], aoi=_aoi_in_burst(rd1, 2))
    burst = tree["IW1/2"].dataset["measurement"]
    assert burst.attrs["polarisation"] == "VH"
    assert complex(burst[100, 100].compute()) == 1 + 0j  # the VH placeholder value
    with pytest.raises(BandError, match="HH"):
        open_slc(rd1, pol="HH")


def test_open_slc__grd_is_refused_with_hint(realdata):
    with pytest.raises(ProductTypeError, match="sigma0 and ACD still work"):
        open_slc(realdata / RD1_GRD)


# --- calibration --------------------------------------------------------------------------

def _cal_xml(rd1: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    root = _xml(rd1 / "annotation" / "calibration" / f"calibration-{STEM}.xml")
    vecs = root.findall(".//calibrationVector")
    lines = np.array([int(v.findtext("line")) for v in vecs])
    pixels = np.array(vecs[0].findtext("pixel").split(), dtype=int)
    sigma = np.stack([_floats(v.findtext("sigmaNought")) for v in vecs])
    beta = np.stack([_floats(v.findtext("betaNought")) for v in vecs])
    return lines, pixels, sigma, beta


def _at(burst: xr.DataArray, lines, pixels) -> xr.DataArray:
    """The burst's samples at stacked-image (line, pixel) positions (outer product)."""
    first = int(burst.line[0])
    return burst.isel(azimuth_time=np.asarray(lines) - first, slant_range_time=np.asarray(pixels))


def test_calibrate__exact_at_lut_nodes(rd1_iw1, rd1):
    lines, pixels, sigma, beta = _cal_xml(rd1)
    burst = rd1_iw1["IW1/0"].dataset["measurement"]
    row = int(np.flatnonzero((lines >= 0) & (lines < 1501))[0])  # a vector inside burst 0
    cols = [0, 1, 270, 541]
    sub = _at(burst, [lines[row]], pixels[cols])
    s0 = calibrate(sub, rd1_iw1["IW1/calibration"].dataset)
    assert s0.name == "sigma0" and s0.attrs["units"] == "1" and s0.dtype == np.float32
    # placeholder DN = 2+0j: sigma0 = |2|² / A² with A read from the XML by hand
    np.testing.assert_allclose(s0.values[0], 4.0 / sigma[row, cols] ** 2, rtol=1e-6)
    b0 = calibrate(sub, rd1_iw1["IW1/calibration"].dataset, kind="beta0", db=True,
                   db_floor=-60)
    np.testing.assert_allclose(b0.values[0], 10 * np.log10(4.0 / beta[row, cols] ** 2),
                               atol=1e-4)
    assert b0.attrs["units"] == "dB" and b0.name == "beta0"


def test_calibrate__lut_bilinear_at_gcps_and_physics(rd1_iw1, rd1):
    """A_sigma at the GCPs: bilinear in the LUT (checked independently) and
    A_beta / sqrt(sin(incidence)) to within 0.3 % (S1_NOTES §2)."""
    from scipy.interpolate import RegularGridInterpolator

    lines, pixels, sigma, beta = _cal_xml(rd1)
    gl, gp, _, _, inc = _gcp_xml(rd1)
    burst = rd1_iw1["IW1/2"].dataset["measurement"]
    sel = (gl >= 3002) & (gl < 4503)  # the GCP row of burst 2
    sub = _at(burst, [int(gl[sel][0])], gp[sel].astype(int))
    a_sigma = np.sqrt(4.0 / calibrate(sub, rd1_iw1["IW1/calibration"].dataset).values[0])
    ref = RegularGridInterpolator((lines, pixels), sigma)(np.column_stack([gl[sel], gp[sel]]))
    np.testing.assert_allclose(a_sigma, ref, rtol=1e-5)
    a_beta = RegularGridInterpolator((lines, pixels), beta)(np.column_stack([gl[sel], gp[sel]]))
    np.testing.assert_allclose(a_sigma, a_beta / np.sqrt(np.sin(np.deg2rad(inc[sel]))),
                               rtol=3e-3)


def _noise_xml(rd1: Path) -> tuple[list[np.datetime64], np.ndarray, np.ndarray, np.ndarray,
                                   np.ndarray]:
    root = _xml(rd1 / "annotation" / "calibration" / f"noise-{STEM}.xml")
    vecs = root.findall(".//noiseRangeVector")
    times = [np.datetime64(v.findtext("azimuthTime"), "ns") for v in vecs]
    pix = np.array(vecs[0].findtext("pixel").split(), dtype=int)
    lut = np.stack([_floats(v.findtext("noiseRangeLut")) for v in vecs])
    az = root.find(".//noiseAzimuthVector")
    return times, pix, lut, np.array(az.findtext("line").split(), dtype=int), _floats(
        az.findtext("noiseAzimuthLut"))


@pytest.mark.parametrize("k", [0, 4, 8])
def test_calibrate__noise_matched_by_time(rd1_iw1, rd1, k):
    """Burst k uses the range vector timed at its start (vector k, whose line field says
    (k-1)*1501: the RD1 quirk), times the azimuth LUT at the line."""
    times, pix, rng_lut, az_line, az_lut = _noise_xml(rd1)
    lines, cpix, sigma, _ = _cal_xml(rd1)
    burst = rd1_iw1["IW1"][str(k)].dataset["measurement"]
    start = np.datetime64(burst.attrs["burst_start_time"])
    assert int(np.argmin(np.abs(np.array(times) - start))) == k
    line = int(az_line[(az_line >= k * 1501 + 100) & (az_line < (k + 1) * 1501)][0])
    cols = [0, 40, 80]  # noise and calibration share these pixel nodes (every 40 px)
    sub = _at(burst, [line], [pix[c] for c in cols])
    tree = rd1_iw1["IW1"]
    eta = rng_lut[k, cols] * az_lut[az_line == line][0]
    a = np.sqrt(4.0 / calibrate(sub, tree["calibration"].dataset).values[0])
    got = calibrate(sub, tree["calibration"].dataset, noise=tree["noise"].dataset,
                    negative="clip")
    # 4 DN² of placeholder signal is below the ~500 DN² of noise: clipped to 0
    np.testing.assert_array_equal(got.values[0], 0.0)
    assert got.attrs["noise_corrected"] == 1
    nan = calibrate(sub, tree["calibration"].dataset, noise=tree["noise"].dataset)
    assert np.isnan(nan.values).all()
    # NESZ = eta / A² from the (linear) calibration of a pure-noise power
    nesz = calibrate(sub, tree["calibration"].dataset).values[0] * eta / 4.0
    np.testing.assert_allclose(nesz, eta / a**2, rtol=1e-5)
    assert np.all((10 * np.log10(nesz) > -26) & (10 * np.log10(nesz) < -20))


def test_calibrate__noise_power_subtracted(rd1_iw1, rd1):
    """With a DN large enough, (|DN|² - eta) / A² exactly."""
    times, pix, rng_lut, az_line, az_lut = _noise_xml(rd1)
    tree = rd1_iw1["IW1"]
    burst = tree["3"].dataset["measurement"]
    line = int(az_line[(az_line >= 3 * 1501 + 100)][0])
    sub = _at(burst, [line], [0, 40]).compute()
    sub = sub.copy(data=np.full(sub.shape, 30 + 40j, dtype=np.complex64))  # |DN|² = 2500
    a = np.sqrt(4.0 / calibrate(_at(burst, [line], [0, 40]), tree["calibration"].dataset)
                .values[0])
    eta = rng_lut[3, :2] * az_lut[az_line == line][0]
    got = calibrate(sub, tree["calibration"].dataset, noise=tree["noise"].dataset)
    np.testing.assert_allclose(got.values[0], (2500 - eta) / a**2, rtol=1e-5)


def test_calibrate__whole_burst_lazy(rd1_iw1):
    burst = rd1_iw1["IW1/1"].dataset["measurement"].isel(slant_range_time=slice(0, 3000))
    s0 = calibrate(burst, rd1_iw1["IW1/calibration"].dataset, db=True)
    assert s0.chunks is not None and s0.dims == burst.dims
    values = s0.values
    # 4 / A² with A_sigma 307-332 over the burst: -44.4 ... -43.7 dB
    assert np.isfinite(values).all() and values.min() > -44.5 and values.max() < -43.5
    floored = calibrate(burst[:2, :5], rd1_iw1["IW1/calibration"].dataset, db=True, db_floor=-40)
    np.testing.assert_array_equal(floored.values, -40.0)


# --- GRD ----------------------------------------------------------------------------------

def test_open_grd__sarsen_product_with_calibration_and_noise(realdata):
    path = realdata / RD2_GRD
    tree = open_grd(path)
    meas = tree["image/measurement"]
    assert meas.dims == ("line", "pixel") and meas.shape == (16705, 26102)
    assert {"calibration", "noise", "gcp", "orbit"} <= set(tree.children)
    noise = tree["noise"].dataset
    assert noise.sizes["azimuth_block"] == 3  # one per sub-swath (xarray-sentinel keeps one)
    gcp = tree["gcp"].dataset
    # AOI around a GCP in the middle: window around that GCP's line/pixel
    i, j = gcp.sizes["gcp_line"] // 2, gcp.sizes["gcp_pixel"] // 2
    x, y = float(gcp.longitude[i, j]), float(gcp.latitude[i, j])
    sub = open_grd(path, aoi=(x - 0.02, y - 0.02, x + 0.02, y + 0.02))
    m = sub["image/measurement"]
    assert int(m.line[0]) < int(gcp.line[i]) < int(m.line[-1])
    assert int(m.pixel[0]) < int(gcp.pixel[j]) < int(m.pixel[-1])
    assert m.shape[0] < 1000 and m.shape[1] < 1000
    with pytest.raises(AOIError, match="does not overlap"):
        open_grd(path, aoi=(150.6, -33.8, 150.9, -33.5))


def test_calibrate__grd_noise_blocks(realdata):
    tree = open_grd(realdata / RD2_GRD)
    meas = tree["image/measurement"]
    noise = tree["noise"].dataset
    b = 1  # IW2 block: pixels inside it get that block's azimuth LUT
    p = int(noise.first_range_sample[b]) + 10
    lines = noise.azimuth_line.values[b]
    row = int(np.isfinite(noise.noiseAzimuthLut.values[b]).sum()) // 2
    line = int(lines[row])
    sub = meas.isel(line=[line], pixel=[p]).compute()
    sub = sub.copy(data=np.full((1, 1), 200, dtype=np.uint16))
    cal = tree["calibration"].dataset
    a = float(cal.sigmaNought.interp(line=line, pixel=p))
    t = sub.azimuth_time.values[0]
    rng = noise.noiseRangeLut.values
    vt = noise.range_azimuth_time.values
    k = int(np.searchsorted(vt, t)) - 1
    w = (t - vt[k]) / (vt[k + 1] - vt[k])
    r = [np.interp(p, noise.range_pixel.values[q], rng[q]) for q in (k, k + 1)]
    eta = ((1 - w) * r[0] + w * r[1]) * float(noise.noiseAzimuthLut.values[b, row])
    got = calibrate(sub, cal, noise=noise, negative="clip")
    np.testing.assert_allclose(got.values[0, 0], max(200.0**2 - eta, 0) / a**2, rtol=2e-5)


def test_open_grd__product_without_calibration_and_slc_refused(realdata):
    tree = open_grd(realdata / RD1_GRD)
    assert "calibration" not in tree.children
    assert int(tree["image/measurement"][0, 0]) == 1  # GRD placeholder
    with pytest.raises(ProductTypeError, match="open_slc"):
        open_grd(realdata / RD2)


# --- zips and damaged products ------------------------------------------------------------

def _zip_folder(folder: Path, out: Path, skip: str | None = None) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.rglob("*")):
            rel = f"{folder.name}/{f.relative_to(folder).as_posix()}"
            if f.is_file() and not (skip and rel.endswith(skip)):
                zf.write(f, rel)
    return out


def test_open_slc__zip_equals_folder(realdata, tmp_path):
    folder = realdata / RD1
    zipped = _zip_folder(folder, tmp_path / (folder.stem + ".zip"))
    meta = read_s1_metadata(zipped)
    assert meta.is_zip and meta.name == folder.stem and meta.burst_count["IW1"] == 9
    aoi = _aoi_in_burst(folder, 3)
    z = open_slc(zipped, swaths=["IW1"], aoi=aoi)
    f = open_slc(folder, swaths=["IW1"], aoi=aoi)
    zb, fb = z["IW1/3"].dataset["measurement"], f["IW1/3"].dataset["measurement"]
    window = dict(azimuth_time=slice(700, 705), slant_range_time=slice(1000, 1010))
    np.testing.assert_array_equal(zb.isel(window).values, fb.isel(window).values)
    assert complex(zb[700, 1000].values) == 2 + 0j
    xr.testing.assert_identical(z["IW1/calibration"].dataset, f["IW1/calibration"].dataset)


def test_open__zip_without_manifest(realdata, tmp_path):
    zipped = _zip_folder(realdata / RD2, tmp_path / "x.zip", skip="manifest.safe")
    with pytest.raises(ProductError, match="not a Sentinel-1 SAFE product"):
        open_slc(zipped)
    other = tmp_path / "y.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("S2A_MSIL2A_X.SAFE/MTD_MSIL2A.xml", "<x/>")
    with pytest.raises(ProductError, match="Sentinel-2"):
        read_s1_metadata(other)


def test_open__truncated_zip_and_not_a_zip(realdata, tmp_path):
    zipped = _zip_folder(realdata / RD2, tmp_path / "p.zip")
    data = zipped.read_bytes()
    bad = tmp_path / "cut.zip"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptProductError, match="not a valid zip"):
        open_slc(bad)
    with pytest.raises(ProductError, match="not found"):
        read_s1_metadata(tmp_path / "missing.zip")


def _copy(folder: Path, dest: Path) -> Path:
    out = shutil.copytree(folder, dest / folder.name)
    for f in out.rglob("*"):
        f.chmod(0o755 if f.is_dir() else 0o644)
    return out


def test_open_slc__truncated_measurement(realdata, tmp_path):
    copy = _copy(realdata / RD2, tmp_path)
    tiff = next((copy / "measurement").glob("*.tiff"))
    size = tiff.stat().st_size
    with open(tiff, "r+b") as fh:
        fh.truncate(size * 2 // 3)
    with pytest.raises(CorruptProductError, match="truncated"):
        open_slc(copy)
    zipped = _zip_folder(copy, tmp_path / "t.zip")
    with pytest.raises(CorruptProductError, match="truncated"):
        open_slc(zipped)


def test_open_slc__corrupt_zip_member(realdata, tmp_path):
    zipped = _zip_folder(realdata / RD2, tmp_path / "c.zip")
    data = bytearray(zipped.read_bytes())
    with zipfile.ZipFile(zipped) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(".tiff"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for k in range(start + 100, start + 140):
        data[k] ^= 0xFF
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    with pytest.raises(CorruptProductError):
        open_slc(bad)


# --- pairs --------------------------------------------------------------------------------

def test_check_pair(realdata):
    slc = read_s1_metadata(realdata / RD1)
    grd = read_s1_metadata(realdata / RD1_GRD)
    rd2 = read_s1_metadata(realdata / RD2)
    sdh = read_s1_metadata(realdata / RD3)
    later = S1Product(**{**slc.__dict__, "start_time": "2021-04-13T05:26:22.396989",
                         "absolute_orbit": 26444})
    check_pair(slc, later)  # same track, another date
    check_pair(slc, later, coherence=True)
    with pytest.raises(ProductTypeError, match="sigma0 and ACD still work"):
        check_pair(slc, grd, coherence=True)
    with pytest.raises(ProductTypeError, match="different types"):
        check_pair(slc, grd)
    with pytest.raises(ProductError, match="relative orbit"):
        check_pair(slc, S1Product(**{**rd2.__dict__, "orbit_pass": "DESCENDING"}))
    with pytest.raises(ProductError, match="pass"):
        check_pair(slc, rd2)
    with pytest.raises(ProductError, match="polarisation VV is missing"):
        check_pair(slc, S1Product(**{**sdh.__dict__, "relative_orbit": 168,
                                     "orbit_pass": "DESCENDING"}))
    with pytest.raises(ProductError, match="same acquisition"):
        check_pair(slc, realdata / RD1)


def test_errors_are_eolab_errors():
    for cls in (AOIError, BandError, CorruptProductError, ProductError, ProductTypeError):
        assert issubclass(cls, EolabError)


def test_no_warnings_on_complete_swath(rd1):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        open_slc(rd1, swaths=["IW1"], aoi=_aoi_in_burst(rd1, 5))
    assert not [w for w in seen if "eolab" in w.filename or "chunks" in str(w.message)]
    assert re.match(r"S1B_IW_SLC__1SDV", read_s1_metadata(rd1).name)


def test_match_bursts(rd1, realdata):
    a = open_slc(rd1, swaths=["IW1"], aoi=_aoi_in_burst(rd1, 4, half=0.1))
    b = open_slc(rd1, swaths=["IW1"], aoi=_aoi_in_burst(rd1, 4))
    assert a["IW1"].attrs["selected_bursts"] == [3, 4, 5]
    assert match_bursts(a, b) == [("IW1", 4, 4)]
    far = open_slc(rd1, swaths=["IW1"], aoi=_aoi_in_burst(rd1, 7))
    with pytest.raises(AOIError, match="no burst in common"):
        match_bursts(b, far)
    ids = open_slc(realdata / RD2)  # matched by burst id
    assert match_bursts(ids, ids) == [("IW1", k, k) for k in range(9)]


def test_open_slc__corrupt_calibration_xml(realdata, tmp_path):
    copy = _copy(realdata / RD2, tmp_path)
    cal = next((copy / "annotation" / "calibration").glob("calibration-*.xml"))
    cal.write_bytes(cal.read_bytes()[:5000])
    with pytest.raises(CorruptProductError, match="not valid XML"):
        open_slc(copy)


def test_calibrate__bad_input(rd1_iw1):
    burst = rd1_iw1["IW1/0"].dataset["measurement"][:4, :4]
    cal = rd1_iw1["IW1/calibration"].dataset
    with pytest.raises(ValueError, match="axis 0"):
        calibrate(burst.T, cal)
    with pytest.raises(ValueError, match="kind"):
        calibrate(burst, cal, kind="sigma")
    with pytest.raises(ProductError, match="gamma"):
        calibrate(burst, cal.drop_vars("gamma"), kind="gamma0")


def test_open_slc__unknown_swath(rd1):
    with pytest.raises(ProductError, match="no sub-swath IW4"):
        open_slc(rd1, swaths=["IW4"])
