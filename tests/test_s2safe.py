"""Tests of the zipped Sentinel-2 L2A SAFE writer (eolab.samples.s2safe)."""

from __future__ import annotations

import hashlib
import re
import warnings
import zipfile
from datetime import datetime
from pathlib import Path
from xml.etree import ElementTree as ET

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from eolab.errors import BandError
from eolab.samples import s2safe
from eolab.samples.s2safe import (
    BAND_IDS,
    L2A_BANDS,
    PRODUCT_BANDS,
    boa_add_offset,
    decode_dn,
    encode_reflectance,
    l2a_product_name,
    write_l2a_product,
)

H20, W20 = 30, 36  # 60 x 72 px at 10 m, 10 x 12 px at 60 m; not square to catch axis swaps
X0, Y0 = 199980.0, 6300040.0
SENSING = datetime(2021, 3, 15, 0, 2, 41)
GENERATION = datetime(2021, 3, 15, 2, 3, 46)
NAME_0214 = "S2A_MSIL2A_20210315T000241_N0214_R030_T56HKH_20210315T020346"
NAME_0400 = "S2A_MSIL2A_20210315T000241_N0400_R030_T56HKH_20210315T020346"


def make_inputs(seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    bands = {}
    for name, (_, res, _) in L2A_BANDS.items():
        shape = (H20 * 20 // res, W20 * 20 // res)
        bands[name] = rng.uniform(0.0, 0.8, shape).astype(np.float32)
    bands["B02"][0, :3] = np.nan  # a partial 2x2 block and a whole one
    bands["B02"][1, :2] = np.nan
    bands["B05"][-1, -1] = np.nan
    scl = rng.integers(0, 12, (H20, W20)).astype(np.uint8)
    return bands, scl


def write(dest: Path, baseline: str, **kw: object) -> Path:
    bands, scl = make_inputs()
    args: dict[str, object] = {
        "bands": bands, "scl": scl, "x0": X0, "y0": Y0, "sensing_time": SENSING,
        "generation_time": GENERATION, "processing_baseline": baseline,
    }  # fmt: skip
    args.update(kw)
    return write_l2a_product(dest, **args)  # type: ignore[arg-type]


@pytest.fixture(scope="module", params=["02.14", "04.00"])
def product(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp(f"bl{request.param}"), request.param)


def members(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def read_xml(path: Path, suffix: str) -> ET.Element:
    with zipfile.ZipFile(path) as archive:
        (member,) = [n for n in archive.namelist() if n.endswith(suffix)]
        return ET.fromstring(archive.read(member))


def text(root: ET.Element, tag: str) -> str:
    elem = root.find(f".//{tag}")
    assert elem is not None and elem.text is not None, tag
    return elem.text


def baseline_of(path: Path) -> str:
    return text(read_xml(path, "MTD_MSIL2A.xml"), "PROCESSING_BASELINE")


def jp2_members(path: Path) -> list[str]:
    return [n for n in members(path) if n.endswith(".jp2")]


def vsizip(path: Path, member: str) -> str:
    return f"/vsizip/{path}/{member}"


def band_member(path: Path, band: str, res: int) -> str:
    (member,) = [n for n in jp2_members(path) if n.endswith(f"_{band}_{res}m.jp2")]
    return member


def read_band(path: Path, band: str, res: int) -> np.ndarray:
    with rasterio.open(vsizip(path, band_member(path, band, res))) as ds:
        return np.asarray(ds.read(1))


def block_mean(arr: np.ndarray, f: int) -> np.ndarray:
    blocks = arr.astype(np.float64).reshape(arr.shape[0] // f, f, arr.shape[1] // f, f)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks give NaN
        return np.asarray(np.nanmean(blocks, axis=(1, 3)))


# --------------------------------------------------------------------------- helpers


def test_boa_add_offset__by_baseline() -> None:
    assert boa_add_offset("02.14") == 0
    assert boa_add_offset("03.01") == 0
    assert boa_add_offset("04.00") == -1000
    assert boa_add_offset("05.10") == -1000
    with pytest.raises(ValueError, match="processing_baseline"):
        boa_add_offset("4.0")


def test_encode_decode__round_trip_and_nodata() -> None:
    refl = np.array([[0.0, 0.1234, np.nan], [1.2, -0.05, 7.0]])
    dn0 = encode_reflectance(refl, 0)
    assert dn0.dtype == np.uint16
    assert dn0.tolist() == [[1, 1234, 0], [12000, 1, 65534]]
    dn4 = encode_reflectance(refl, -1000)
    assert dn4.tolist() == [[1000, 2234, 0], [13000, 500, 65534]]
    back = decode_dn(dn4, -1000)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back[0, :2], [0.0, 0.1234], atol=1e-6)
    assert np.isnan(back[0, 2])
    assert not np.isnan(decode_dn(dn4, -1000, nodata=None)).any()


def test_l2a_product_name__tutorial_scene() -> None:
    name = l2a_product_name(
        spacecraft="S2A", sensing_time=SENSING, processing_baseline="02.14",
        relative_orbit=30, tile="56HKH", generation_time=GENERATION,
    )  # fmt: skip
    assert name == NAME_0214


def test_band_tables__consistent() -> None:
    assert list(BAND_IDS) == [
        "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12",
    ]  # fmt: skip
    assert list(BAND_IDS.values()) == list(range(13))
    assert all(BAND_IDS[name] == spec[0] for name, spec in L2A_BANDS.items())
    for res, names in PRODUCT_BANDS.items():
        for name in names:
            assert name == "SCL" or L2A_BANDS[name][1] <= res


# --------------------------------------------------------------------------- layout


def test_write__layout_and_names(product: Path) -> None:
    baseline = baseline_of(product)
    name = NAME_0214 if baseline == "02.14" else NAME_0400
    assert product.name == f"{name}.zip"
    names = members(product)
    assert {n.split("/")[0] for n in names} == {f"{name}.SAFE"}
    safe = f"{name}.SAFE/"
    for required in ("MTD_MSIL2A.xml", "manifest.safe"):
        assert safe + required in names
    granules = {
        n.split("/")[2] for n in names if n.startswith(safe + "GRANULE/") and n.count("/") > 2
    }
    assert len(granules) == 1
    granule = granules.pop()
    match = re.fullmatch(r"L2A_T56HKH_A(\d{6})_20210315T000241", granule)
    assert match, granule
    assert (int(match.group(1)) + 2) % 143 + 1 == 30  # S2A absolute -> relative orbit
    assert f"{safe}GRANULE/{granule}/MTD_TL.xml" in names
    assert any(
        re.fullmatch(rf"{safe}DATASTRIP/DS_\w+_S20210315T000241/MTD_DS.xml", n) for n in names
    )
    expected = {
        f"{safe}GRANULE/{granule}/IMG_DATA/R{res}m/T56HKH_20210315T000241_{band}_{res}m.jp2"
        for res, bands in PRODUCT_BANDS.items()
        for band in bands
    }
    assert set(jp2_members(product)) == expected
    assert len(expected) == 4 + 10 + 12


def test_write__zip_storage(product: Path) -> None:
    with zipfile.ZipFile(product) as archive:
        for info in archive.infolist():
            if info.filename.endswith(".jp2"):
                assert info.compress_type == zipfile.ZIP_STORED
            elif info.filename.endswith((".xml", ".safe")):
                assert info.compress_type == zipfile.ZIP_DEFLATED
            assert info.date_time == (2021, 3, 15, 2, 3, 46)
        assert archive.testzip() is None


def test_write__deterministic(tmp_path: Path) -> None:
    first = write(tmp_path / "a", "04.00")
    second = write(tmp_path / "b", "04.00")
    assert first.read_bytes() == second.read_bytes()


# --------------------------------------------------------------------------- metadata


def test_mtd_msil2a__product_info(product: Path) -> None:
    root = read_xml(product, "MTD_MSIL2A.xml")
    assert root.tag == (
        "{https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd}Level-2A_User_Product"
    )
    assert text(root, "PRODUCT_URI") == product.name.replace(".zip", ".SAFE")
    assert text(root, "PROCESSING_LEVEL") == "Level-2A"
    assert text(root, "PRODUCT_TYPE") == "S2MSI2A"
    assert text(root, "PRODUCT_START_TIME") == "2021-03-15T00:02:41.000Z"
    assert text(root, "GENERATION_TIME").startswith("2021-03-15T02:03:46")
    assert text(root, "SPACECRAFT_NAME") == "Sentinel-2A"
    assert text(root, "SENSING_ORBIT_NUMBER") == "30"
    files = [e.text for e in root.iter("IMAGE_FILE")]
    prefix = product.name.replace(".zip", ".SAFE/")
    assert sorted(f"{prefix}{f}.jp2" for f in files) == sorted(jp2_members(product))
    assert not any(f.endswith(".jp2") for f in files if f)


def test_mtd_msil2a__scaling(product: Path) -> None:
    root = read_xml(product, "MTD_MSIL2A.xml")
    quant = root.find(".//QUANTIFICATION_VALUES_LIST/BOA_QUANTIFICATION_VALUE")
    assert quant is not None and quant.text == "10000" and quant.get("unit") == "none"
    assert root.find(".//QUANTIFICATION_VALUES_LIST/AOT_QUANTIFICATION_VALUE") is not None
    assert root.find(".//QUANTIFICATION_VALUES_LIST/WVP_QUANTIFICATION_VALUE") is not None
    offsets = root.findall(".//BOA_ADD_OFFSET_VALUES_LIST/BOA_ADD_OFFSET")
    if baseline_of(product) == "04.00":
        assert [o.get("band_id") for o in offsets] == [str(i) for i in range(13)]
        assert {o.text for o in offsets} == {"-1000"}
    else:
        assert offsets == []
        assert root.find(".//BOA_ADD_OFFSET_VALUES_LIST") is None
    specials = {
        text(s, "SPECIAL_VALUE_TEXT"): text(s, "SPECIAL_VALUE_INDEX")
        for s in root.iter("Special_Values")
    }
    assert specials == {"NODATA": "0", "SATURATED": "65535"}
    spectral = root.findall(".//Spectral_Information_List/Spectral_Information")
    assert [s.get("physicalBand") for s in spectral][:3] == ["B1", "B2", "B3"]
    assert [s.get("bandId") for s in spectral] == [str(i) for i in range(13)]
    b8a = spectral[8]
    assert b8a.get("physicalBand") == "B8A" and text(b8a, "RESOLUTION") == "20"


def test_mtd_msil2a__cloud_cover_from_scl(product: Path) -> None:
    _, scl = make_inputs()
    valid = scl[scl > 0]
    expected = 100.0 * np.isin(valid, [8, 9, 10]).sum() / valid.size
    root = read_xml(product, "MTD_MSIL2A.xml")
    assert float(text(root, "Cloud_Coverage_Assessment")) == pytest.approx(expected, abs=1e-5)
    assert float(text(root, "WATER_PERCENTAGE")) == pytest.approx(
        100.0 * (valid == 6).sum() / valid.size, abs=1e-5
    )


def test_cloud_cover__override(tmp_path: Path) -> None:
    path = write(tmp_path, "02.14", cloud_cover=12.5, name="S2A_custom_name", y0=6300012.5)
    assert path.name == "S2A_custom_name.zip"
    assert members(path)[0].startswith("S2A_custom_name.SAFE/")
    root = read_xml(path, "MTD_MSIL2A.xml")
    assert float(text(root, "Cloud_Coverage_Assessment")) == 12.5
    assert text(root, "PRODUCT_URI") == "S2A_custom_name.SAFE"
    assert text(read_xml(path, "MTD_TL.xml"), "ULY") == "6300012.5"


def test_mtd_tl__geocoding(product: Path) -> None:
    root = read_xml(product, "MTD_TL.xml")
    assert root.tag.endswith("}Level-2A_Tile_ID")
    assert text(root, "HORIZONTAL_CS_CODE") == "EPSG:32756"
    sizes = {s.get("resolution"): (text(s, "NROWS"), text(s, "NCOLS")) for s in root.iter("Size")}
    assert sizes == {"10": ("60", "72"), "20": ("30", "36"), "60": ("10", "12")}
    for pos in root.iter("Geoposition"):
        res = int(pos.get("resolution", "0"))
        assert (text(pos, "ULX"), text(pos, "ULY")) == ("199980", "6300040")
        assert (int(text(pos, "XDIM")), int(text(pos, "YDIM"))) == (res, -res)
    zenith = [float(v) for v in text(root, "Sun_Angles_Grid/Zenith/Values_List/VALUES").split()]
    assert all(0 < z < 90 for z in zenith)
    assert len(list(root.iter("Viewing_Incidence_Angles_Grids"))) == 13


def test_manifest__lists_every_file(product: Path) -> None:
    root = read_xml(product, "manifest.safe")
    assert root.tag == "{urn:ccsds:schema:xfdu:1}XFDU"
    prefix = product.name.replace(".zip", ".SAFE/")
    with zipfile.ZipFile(product) as archive:
        listed = {}
        for stream in root.iter("byteStream"):
            location = stream.find("fileLocation")
            checksum = stream.find("checksum")
            assert location is not None and checksum is not None
            member = prefix + location.get("href", "").removeprefix("./")
            data = archive.read(member)
            assert int(stream.get("size", "-1")) == len(data)
            algo = {"MD5": hashlib.md5, "SHA3-256": hashlib.sha3_256}[
                checksum.get("checksumName", "")
            ]
            assert checksum.text == algo(data).hexdigest().upper()
            listed[member] = True
    files = [n for n in members(product) if not n.endswith("/") and not n.endswith("manifest.safe")]
    assert sorted(listed) == sorted(files)


# --------------------------------------------------------------------------- rasters


def test_jp2__georeferenced_via_vsizip(product: Path) -> None:
    for member in jp2_members(product):
        res = int(re.search(r"_(\d\d)m\.jp2$", member).group(1))  # type: ignore[union-attr]
        with rasterio.open(vsizip(product, member)) as ds:
            assert ds.driver == "JP2OpenJPEG"
            assert ds.crs.to_epsg() == 32756
            assert ds.transform == from_origin(X0, Y0, res, res)
            assert ds.shape == (H20 * 20 // res, W20 * 20 // res)
            assert ds.dtypes[0] == ("uint8" if "_SCL_" in member else "uint16")


def test_jp2__reflectance_round_trip(product: Path) -> None:
    bands, _ = make_inputs()
    offset = boa_add_offset(baseline_of(product))
    for name, (_, res, _) in L2A_BANDS.items():
        dn = read_band(product, name, res)
        refl = decode_dn(dn, offset)
        expected = bands[name]
        assert np.array_equal(np.isnan(refl), np.isnan(expected)), name
        assert (dn[np.isnan(expected)] == 0).all()
        np.testing.assert_allclose(refl, expected, atol=1e-4, err_msg=name)
    if offset:
        b03 = read_band(product, "B03", 10)
        assert np.array_equal(b03, np.rint(bands["B03"].astype(np.float64) * 10000) + 1000)


def test_jp2__coarser_bands_are_block_means(product: Path) -> None:
    bands, scl = make_inputs()
    offset = boa_add_offset(baseline_of(product))
    cases = [("B02", 20, 2), ("B04", 20, 2), ("B02", 60, 6), ("B05", 60, 3), ("B12", 60, 3)]
    for name, res, factor in cases:
        got = decode_dn(read_band(product, name, res), offset)
        np.testing.assert_allclose(got, block_mean(bands[name], factor), atol=1e-4, err_msg=name)
    b02_20 = decode_dn(read_band(product, "B02", 20), offset)
    assert np.isnan(b02_20[0, 0]) and not np.isnan(b02_20[0, 1])  # all-NaN vs partial block
    assert np.array_equal(read_band(product, "SCL", 20), scl)
    assert np.array_equal(read_band(product, "SCL", 60), scl[1::3, 1::3])


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_gdal_sentinel2_driver__reads_product(product: Path) -> None:
    """GDAL's own SENTINEL2 driver recognises the layout and finds the bands."""
    mtd = vsizip(product, product.name.replace(".zip", ".SAFE/MTD_MSIL2A.xml"))
    with rasterio.open(mtd) as ds:
        assert ds.driver == "SENTINEL2"
        subdatasets = ds.subdatasets
    assert f"SENTINEL2_L2A:{mtd}:10m:EPSG_32756" in subdatasets
    with rasterio.open(f"SENTINEL2_L2A:{mtd}:10m:EPSG_32756") as ds:
        assert ds.shape == (60, 72)
        assert ds.transform == from_origin(X0, Y0, 10, 10)
        assert ds.descriptions[0].startswith("B4")
        assert np.array_equal(ds.read(1), read_band(product, "B04", 10))


# --------------------------------------------------------------------------- errors


def assert_nothing_left(dest: Path) -> None:
    assert not dest.exists() or list(dest.iterdir()) == []


def test_write__missing_band(tmp_path: Path) -> None:
    bands, scl = make_inputs()
    del bands["B8A"]
    with pytest.raises(BandError, match=r"missing band\(s\) \['B8A'\]"):
        write_l2a_product(tmp_path, bands=bands, scl=scl, x0=X0, y0=Y0,
                          sensing_time=SENSING, generation_time=GENERATION)  # fmt: skip
    assert_nothing_left(tmp_path)


def test_write__unknown_band(tmp_path: Path) -> None:
    bands, scl = make_inputs()
    bands["B10"] = bands["B01"]
    with pytest.raises(BandError, match="unknown L2A band"):
        write_l2a_product(tmp_path, bands=bands, scl=scl, x0=X0, y0=Y0,
                          sensing_time=SENSING, generation_time=GENERATION)  # fmt: skip
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda b, s: b.update(B04=b["B04"][:-2]),
            r"band B04 is at 10 m and must have shape \(60, 72\)",
        ),
        (
            lambda b, s: b.update(B09=b["B09"].T),
            r"band B09 is at 60 m and must have shape \(10, 12\)",
        ),
        (
            lambda b, s: b.update(B11=(b["B11"] * 10000).astype("uint16")),
            "must be float reflectance",
        ),
    ],
)
def test_write__bad_band_arrays(tmp_path: Path, change: object, message: str) -> None:
    bands, scl = make_inputs()
    change(bands, scl)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        write_l2a_product(tmp_path, bands=bands, scl=scl, x0=X0, y0=Y0,
                          sensing_time=SENSING, generation_time=GENERATION)  # fmt: skip
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"scl": np.full((H20, W20), 12, np.uint8)}, "outside 0..11"),
        ({"scl": np.zeros((H20 + 1, W20), np.uint8)}, "divide by 3"),
        ({"scl": np.zeros((H20, W20), np.float32)}, "integer SCL codes"),
        ({"epsg": 32656}, "UTM zone 56S"),
        ({"tile": "56hkh"}, "MGRS tile id"),
        ({"processing_baseline": "N0214"}, "processing_baseline"),
        ({"spacecraft": "S3A"}, "spacecraft"),
        ({"relative_orbit": 0}, "relative_orbit"),
        ({"name": "X.SAFE"}, "without .SAFE"),
        ({"cloud_cover": 101.0}, "cloud_cover"),
        ({"generation_time": datetime(2021, 3, 14)}, "precedes"),
    ],
)
def test_write__bad_arguments(tmp_path: Path, kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write(tmp_path / "out", "02.14", **kw)
    assert_nothing_left(tmp_path / "out")


def test_write__error_midway_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    original = s2safe._encode_jp2

    def flaky(*args: object) -> bytes:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk full")
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(s2safe, "_encode_jp2", flaky)
    with pytest.raises(RuntimeError, match="disk full"):
        write(tmp_path, "02.14")
    assert list(tmp_path.iterdir()) == []
