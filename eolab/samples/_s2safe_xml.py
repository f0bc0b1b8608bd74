"""Metadata files of an L2A product: MTD_MSIL2A.xml, MTD_TL.xml, MTD_DS.xml and manifest.safe."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

import numpy as np
from pyproj import Transformer

from eolab.samples._s2safe_product import (
    BAND_IDS,
    BAND_RESOLUTIONS,
    L2A_BANDS,
    NODATA_DN,
    QUANTIFICATION_VALUE,
    SATURATED_DN,
    SCL_CLASSES,
    _Product,
    _stamp,
)

# Spectral_Information: band -> (min nm, max nm) for Sentinel-2A; centrals in L2A_BANDS.
_WAVELENGTH_RANGE: dict[str, tuple[int, int]] = {
    "B01": (411, 456), "B02": (456, 533), "B03": (538, 583), "B04": (646, 684),
    "B05": (694, 713), "B06": (731, 749), "B07": (769, 797), "B08": (760, 908),
    "B8A": (848, 881), "B09": (932, 958), "B10": (1337, 1412), "B11": (1539, 1682),
    "B12": (2078, 2320),
}  # fmt: skip
_B10 = (60, 1373.5)
_SOLAR_IRRADIANCE = (
    1884.69, 1959.72, 1823.24, 1512.06, 1424.64, 1287.61, 1162.08,
    1041.63, 955.32, 812.92, 367.15, 245.59, 85.25,
)  # fmt: skip
_NSSDC = {"S2A": "2015-028A", "S2B": "2017-013A"}
_NS_PRODUCT = "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd"
_NS_TILE = "https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-2A_Tile_Metadata.xsd"
_NS_DATASTRIP = "https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-2A_Datastrip_Metadata.xsd"
_NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'


# --------------------------------------------------------------------------- XML


def _sub(parent: ET.Element, tag: str, text: object = None, **attrib: object) -> ET.Element:
    elem = ET.SubElement(parent, tag, {k: str(v) for k, v in attrib.items()})
    if text is not None:
        elem.text = str(text)
    return elem


def _serialize(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    return (_XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n").encode("utf-8")


def _root(tag: str, namespace: str) -> ET.Element:
    # Prefixed names are written literally so that each file keeps its own
    # "n1" namespace without touching ElementTree's global prefix registry.
    return ET.Element(
        f"n1:{tag}",
        {
            "xmlns:n1": namespace,
            "xmlns:xsi": _NS_XSI,
            "xsi:schemaLocation": f"{namespace} {namespace.rsplit('/', 1)[-1]}",
        },
    )


def _coordinate(value: float) -> str:
    """Metres as real products write them: ``6300040``, never ``6.30004e+06``."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _time_ms(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _time_us(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _footprint(product: _Product) -> list[tuple[float, float]]:
    """Window corners as (lat, lon), closed ring, as in EXT_POS_LIST."""
    h20, w20 = product.shape20
    x1, y1 = product.x0 + 20 * w20, product.y0 - 20 * h20
    corners = [(product.x0, product.y0), (x1, product.y0), (x1, y1), (product.x0, y1)]
    to_geo = Transformer.from_crs(product.epsg, 4326, always_xy=True)
    ring = [to_geo.transform(x, y)[::-1] for x, y in corners]
    return [*ring, ring[0]]


def _earth_sun_u(when: datetime) -> float:
    doy = when.timetuple().tm_yday
    return 1.0 / (1.0 - 0.01673 * math.cos(0.0172 * (doy - 4))) ** 2


def _mtd_msil2a(
    product: _Product, files: list[str], stats: dict[int, float], cloud_cover: float
) -> bytes:
    root = _root("Level-2A_User_Product", _NS_PRODUCT)
    general = _sub(root, "n1:General_Info")
    info = _sub(general, "Product_Info")
    _sub(info, "PRODUCT_START_TIME", _time_ms(product.sensing))
    _sub(info, "PRODUCT_STOP_TIME", _time_ms(product.sensing))
    _sub(info, "PRODUCT_URI", product.safe)
    _sub(info, "PROCESSING_LEVEL", "Level-2A")
    _sub(info, "PRODUCT_TYPE", "S2MSI2A")
    _sub(info, "PROCESSING_BASELINE", product.baseline)
    _sub(info, "GENERATION_TIME", _time_us(product.generation))
    _sub(info, "PREVIEW_IMAGE_URL", "Not applicable")
    _sub(info, "PREVIEW_GEO_INFO", "Not applicable")
    datatake = _sub(
        info,
        "Datatake",
        datatakeIdentifier=(
            f"G{product.spacecraft}_{_stamp(product.sensing)}_{product.absolute_orbit:06d}"
            f"_N{product.baseline}"
        ),
    )
    _sub(datatake, "SPACECRAFT_NAME", f"Sentinel-{product.spacecraft[1:]}")
    _sub(datatake, "DATATAKE_TYPE", "INS-NOBS")
    _sub(datatake, "DATATAKE_SENSING_START", _time_ms(product.sensing))
    _sub(datatake, "SENSING_ORBIT_NUMBER", product.relative_orbit)
    _sub(datatake, "SENSING_ORBIT_DIRECTION", "DESCENDING")
    query = _sub(info, "Query_Options", completeSingleTile="true")
    _sub(query, "PRODUCT_FORMAT", "SAFE_COMPACT")
    organisation = _sub(info, "Product_Organisation")
    granule = _sub(
        _sub(organisation, "Granule_List"),
        "Granule",
        datastripIdentifier=product.datastrip_id,
        granuleIdentifier=product.tile_id,
        imageFormat="JPEG2000",
    )
    for path in files:
        _sub(granule, "IMAGE_FILE", path)

    chars = _sub(general, "Product_Image_Characteristics")
    for text, index in (("NODATA", NODATA_DN), ("SATURATED", SATURATED_DN)):
        special = _sub(chars, "Special_Values")
        _sub(special, "SPECIAL_VALUE_TEXT", text)
        _sub(special, "SPECIAL_VALUE_INDEX", index)
    order = _sub(chars, "Image_Display_Order")
    for channel, band_id in (("RED", 3), ("GREEN", 2), ("BLUE", 1)):
        _sub(order, f"{channel}_CHANNEL", band_id)
    quant = _sub(chars, "QUANTIFICATION_VALUES_LIST")
    _sub(quant, "BOA_QUANTIFICATION_VALUE", QUANTIFICATION_VALUE, unit="none")
    _sub(quant, "AOT_QUANTIFICATION_VALUE", "1000.0", unit="none")
    _sub(quant, "WVP_QUANTIFICATION_VALUE", "1000.0", unit="cm")
    if product.offset:
        offsets = _sub(chars, "BOA_ADD_OFFSET_VALUES_LIST")
        for band_id in BAND_IDS.values():
            _sub(offsets, "BOA_ADD_OFFSET", product.offset, band_id=band_id)
    conversion = _sub(chars, "Reflectance_Conversion")
    _sub(conversion, "U", f"{_earth_sun_u(product.sensing):.14f}")
    irradiance = _sub(conversion, "Solar_Irradiance_List")
    for band_id, value in enumerate(_SOLAR_IRRADIANCE):
        _sub(irradiance, "SOLAR_IRRADIANCE", value, bandId=band_id, unit="W/m²/µm")
    spectral = _sub(chars, "Spectral_Information_List")
    for name, band_id in BAND_IDS.items():
        res, central = (BAND_RESOLUTIONS[name], L2A_BANDS[name][2]) if name in L2A_BANDS else _B10
        physical = "B" + name[1:].lstrip("0")
        item = _sub(spectral, "Spectral_Information", bandId=band_id, physicalBand=physical)
        _sub(item, "RESOLUTION", res)
        wavelength = _sub(item, "Wavelength")
        low, high = _WAVELENGTH_RANGE[name]
        _sub(wavelength, "MIN", low, unit="nm")
        _sub(wavelength, "MAX", high, unit="nm")
        _sub(wavelength, "CENTRAL", central, unit="nm")
    classes = _sub(chars, "Scene_Classification_List")
    for code, label in SCL_CLASSES.items():
        entry = _sub(classes, "Scene_Classification_ID")
        _sub(entry, "SCENE_CLASSIFICATION_TEXT", f"SC_{label}")
        _sub(entry, "SCENE_CLASSIFICATION_INDEX", code)

    geometric = _sub(root, "n1:Geometric_Info")
    footprint = _sub(geometric, "Product_Footprint")
    inner = _sub(footprint, "Product_Footprint")
    positions = " ".join(f"{lat:.10f} {lon:.10f}" for lat, lon in _footprint(product))
    _sub(_sub(inner, "Global_Footprint"), "EXT_POS_LIST", positions + " ")
    _sub(footprint, "RASTER_CS_TYPE", "POINT")
    _sub(footprint, "PIXEL_ORIGIN", 1)
    crs = _sub(geometric, "Coordinate_Reference_System")
    _sub(crs, "GEO_TABLES", "EPSG", version="1")
    _sub(crs, "HORIZONTAL_CS_TYPE", "GEOGRAPHIC")

    quality = _sub(root, "n1:Quality_Indicators_Info")
    _sub(quality, "Cloud_Coverage_Assessment", f"{cloud_cover:.6f}")
    technical = _sub(quality, "Technical_Quality_Assessment")
    _sub(technical, "DEGRADED_ANC_DATA_PERCENTAGE", "0.0")
    _sub(technical, "DEGRADED_MSI_DATA_PERCENTAGE", 0)
    checks = _sub(_sub(quality, "Quality_Control_Checks"), "Quality_Inspections")
    for check in ("FORMAT_CORRECTNESS", "GENERAL_QUALITY", "GEOMETRIC_QUALITY",
                  "RADIOMETRIC_QUALITY", "SENSOR_QUALITY"):  # fmt: skip
        _sub(checks, "quality_check", "PASSED", checkType=check)
    _image_content_qi(quality, stats)
    return _serialize(root)


def _image_content_qi(parent: ET.Element, stats: dict[int, float]) -> None:
    content = _sub(parent, "Image_Content_QI")
    names = {1: "SATURATED_DEFECTIVE_PIXEL", 2: "DARK_FEATURES", 3: "CLOUD_SHADOW",
             4: "VEGETATION", 5: "NOT_VEGETATED", 6: "WATER", 7: "UNCLASSIFIED",
             8: "MEDIUM_PROBA_CLOUDS", 9: "HIGH_PROBA_CLOUDS", 10: "THIN_CIRRUS",
             11: "SNOW_ICE"}  # fmt: skip
    _sub(content, "NODATA_PIXEL_PERCENTAGE", f"{stats[0]:.6f}")
    for code, label in names.items():
        _sub(content, f"{label}_PERCENTAGE", f"{stats[code]:.6f}")


def _sun_angles(lon: np.ndarray, lat: np.ndarray, when: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Approximate solar zenith and azimuth (degrees, azimuth from north clockwise)."""
    start = datetime(when.year, 1, 1, tzinfo=UTC)
    day = (when - start).total_seconds() / 86400.0
    gamma = 2 * math.pi / 365.0 * day
    eqtime = 229.18 * (
        0.000075 + 0.001868 * math.cos(gamma) - 0.032077 * math.sin(gamma)
        - 0.014615 * math.cos(2 * gamma) - 0.040849 * math.sin(2 * gamma)
    )  # fmt: skip
    decl = (
        0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma)
        - 0.006758 * math.cos(2 * gamma) + 0.000907 * math.sin(2 * gamma)
        - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma)
    )  # fmt: skip
    minutes = when.hour * 60 + when.minute + when.second / 60.0
    hour_angle = np.radians((minutes + eqtime + 4.0 * lon) / 4.0 - 180.0)
    phi = np.radians(lat)
    cos_zenith = np.sin(phi) * math.sin(decl) + np.cos(phi) * math.cos(decl) * np.cos(hour_angle)
    zenith = np.degrees(np.arccos(np.clip(cos_zenith, -1.0, 1.0)))
    azimuth = np.degrees(
        np.arctan2(
            np.sin(hour_angle), np.cos(hour_angle) * np.sin(phi) - math.tan(decl) * np.cos(phi)
        )
    )
    return zenith, (azimuth + 180.0) % 360.0


def _values_list(parent: ET.Element, grid: np.ndarray, step: int = 5000) -> None:
    _sub(parent, "COL_STEP", step, unit="m")
    _sub(parent, "ROW_STEP", step, unit="m")
    values = _sub(parent, "Values_List")
    for row in grid:
        _sub(values, "VALUES", " ".join(f"{v:.6g}" for v in row))


def _mtd_tl(product: _Product, stats: dict[int, float], cloud_cover: float) -> bytes:
    root = _root("Level-2A_Tile_ID", _NS_TILE)
    general = _sub(root, "n1:General_Info")
    _sub(general, "TILE_ID", product.tile_id, metadataLevel="Brief")
    _sub(general, "DATASTRIP_ID", product.datastrip_id, metadataLevel="Standard")
    _sub(general, "DOWNLINK_PRIORITY", "NOMINAL", metadataLevel="Standard")
    _sub(general, "SENSING_TIME", _time_us(product.sensing), metadataLevel="Standard")
    archiving = _sub(general, "Archiving_Info", metadataLevel="Expertise")
    _sub(archiving, "ARCHIVING_CENTRE", product.centre)
    _sub(archiving, "ARCHIVING_TIME", _time_us(product.generation))

    geometric = _sub(root, "n1:Geometric_Info")
    geocoding = _sub(geometric, "Tile_Geocoding", metadataLevel="Brief")
    zone = int(product.tile[:2])
    hemisphere = "N" if product.epsg < 32700 else "S"
    _sub(geocoding, "HORIZONTAL_CS_NAME", f"WGS84 / UTM zone {zone}{hemisphere}")
    _sub(geocoding, "HORIZONTAL_CS_CODE", f"EPSG:{product.epsg}")
    for res in (10, 20, 60):
        rows, cols = product.shape(res)
        size = _sub(geocoding, "Size", resolution=res)
        _sub(size, "NROWS", rows)
        _sub(size, "NCOLS", cols)
    for res in (10, 20, 60):
        position = _sub(geocoding, "Geoposition", resolution=res)
        _sub(position, "ULX", _coordinate(product.x0))
        _sub(position, "ULY", _coordinate(product.y0))
        _sub(position, "XDIM", res)
        _sub(position, "YDIM", -res)

    angles = _sub(geometric, "Tile_Angles", metadataLevel="Standard")
    h20, w20 = product.shape20
    ny, nx = math.ceil(20 * h20 / 5000) + 1, math.ceil(20 * w20 / 5000) + 1
    xs = product.x0 + 5000.0 * np.arange(nx)
    ys = product.y0 - 5000.0 * np.arange(ny)
    gx, gy = np.meshgrid(xs, ys)
    lon, lat = Transformer.from_crs(product.epsg, 4326, always_xy=True).transform(gx, gy)
    zenith, azimuth = _sun_angles(np.asarray(lon), np.asarray(lat), product.sensing)
    sun = _sub(angles, "Sun_Angles_Grid")
    _values_list(_sub(sun, "Zenith"), zenith)
    _values_list(_sub(sun, "Azimuth"), azimuth)
    mean_sun = _sub(angles, "Mean_Sun_Angle")
    _sub(mean_sun, "ZENITH_ANGLE", f"{zenith.mean():.10f}", unit="deg")
    _sub(mean_sun, "AZIMUTH_ANGLE", f"{azimuth.mean():.10f}", unit="deg")
    # Viewing angles: one detector across the window, zenith growing eastwards.
    view_zenith = 3.0 + 4.0 * (gx - product.x0) / max(20.0 * w20, 1.0)
    view_azimuth = np.full_like(view_zenith, 105.0)
    for band_id in BAND_IDS.values():
        grids = _sub(angles, "Viewing_Incidence_Angles_Grids", bandId=band_id, detectorId=4)
        _values_list(_sub(grids, "Zenith"), view_zenith + 0.02 * band_id)
        _values_list(_sub(grids, "Azimuth"), view_azimuth)
    means = _sub(angles, "Mean_Viewing_Incidence_Angle_List")
    for band_id in BAND_IDS.values():
        mean = _sub(means, "Mean_Viewing_Incidence_Angle", bandId=band_id)
        _sub(mean, "ZENITH_ANGLE", f"{view_zenith.mean() + 0.02 * band_id:.10f}", unit="deg")
        _sub(mean, "AZIMUTH_ANGLE", "105.0", unit="deg")

    quality = _sub(root, "n1:Quality_Indicators_Info", metadataLevel="Standard")
    content = _sub(quality, "Image_Content_QI")
    _sub(content, "CLOUDY_PIXEL_PERCENTAGE", f"{cloud_cover:.6f}")
    _sub(content, "DEGRADED_MSI_DATA_PERCENTAGE", "0.000000")
    _sub(content, "NODATA_PIXEL_PERCENTAGE", f"{stats[0]:.6f}")
    return _serialize(root)


def _mtd_ds(product: _Product) -> bytes:
    root = _root("Level-2A_DataStrip_ID", _NS_DATASTRIP)
    general = _sub(root, "n1:General_Info")
    info = _sub(general, "Datastrip_Time_Info")
    _sub(info, "DATASTRIP_SENSING_START", _time_us(product.sensing))
    _sub(info, "DATASTRIP_SENSING_STOP", _time_us(product.sensing))
    datastrip = _sub(general, "Processing_Info")
    _sub(datastrip, "PROCESSING_BASELINE", product.baseline)
    _sub(datastrip, "UTC_DATE_TIME", _time_us(product.generation))
    _sub(general, "DATASTRIP_ID", product.datastrip_id)
    _sub(general, "SPACECRAFT_NAME", f"Sentinel-{product.spacecraft[1:]}")
    _sub(general, "SENSING_ORBIT_NUMBER", product.relative_orbit)
    _sub(general, "ABSOLUTE_ORBIT_NUMBER", product.absolute_orbit)
    return _serialize(root)


@dataclass(frozen=True)
class _Member:
    """One file of the .SAFE as listed in manifest.safe."""

    object_id: str
    path: str  # relative to the .SAFE
    size: int
    checksum: str

    @classmethod
    def of(cls, product: _Product, object_id: str, path: str, data: bytes) -> _Member:
        digest = hashlib.sha3_256 if product.offset else hashlib.md5
        return cls(object_id, path, len(data), digest(data).hexdigest().upper())


def _manifest(product: _Product, members: list[_Member]) -> bytes:
    """XFDU manifest listing every file with its size and checksum."""
    root = ET.Element(
        "xfdu:XFDU",
        {
            "xmlns:xfdu": "urn:ccsds:schema:xfdu:1",
            "xmlns:safe": "http://www.esa.int/safe/sentinel/1.1",
            "xmlns:gml": "http://www.opengis.net/gml",
            "version": "esa/safe/sentinel/1.1/sentinel-2/msi/archive_l2a_user_product",
        },
    )
    package = _sub(
        _sub(root, "informationPackageMap"),
        "xfdu:contentUnit",
        dmdID="acquisitionPeriod platform",
        pdiID="processing",
        textInfo="SENTINEL-2 MSI Level-2A User Product",
        unitType="Product_Level-2A",
    )
    for member in members:
        object_id = member.object_id
        unit_id = object_id.removesuffix("_Data") + "_Unit"
        unit = _sub(package, "xfdu:contentUnit", ID=unit_id)
        unit.set(
            "unitType", "Metadata Unit" if "Metadata" in object_id else "Measurement Data Unit"
        )
        _sub(unit, "dataObjectPointer", dataObjectID=object_id)

    metadata = _sub(root, "metadataSection")
    period = _sub(metadata, "metadataObject", ID="acquisitionPeriod", classification="DESCRIPTION",
                  category="DMD")  # fmt: skip
    wrap = _sub(period, "metadataWrap", mimeType="text/xml", vocabularyName="SAFE",
                textInfo="Acquisition Period")  # fmt: skip
    acquisition = _sub(_sub(wrap, "xmlData"), "safe:acquisitionPeriod")
    _sub(acquisition, "safe:startTime", _time_us(product.sensing))
    _sub(acquisition, "safe:stopTime", _time_us(product.sensing))
    platform_obj = _sub(metadata, "metadataObject", ID="platform", classification="DESCRIPTION",
                        category="DMD")  # fmt: skip
    wrap = _sub(platform_obj, "metadataWrap", mimeType="text/xml", vocabularyName="SAFE",
                textInfo="Platform Description")  # fmt: skip
    platform = _sub(_sub(wrap, "xmlData"), "safe:platform")
    _sub(platform, "safe:nssdcIdentifier", _NSSDC[product.spacecraft])
    _sub(platform, "safe:familyName", "SENTINEL")
    _sub(platform, "safe:number", product.spacecraft[1:])
    _sub(_sub(platform, "safe:instrument"), "safe:familyName", "Multi-Spectral Instrument",
         abbreviation="MSI")  # fmt: skip
    processing_obj = _sub(metadata, "metadataObject", ID="processing", classification="PROVENANCE",
                          category="PDI")  # fmt: skip
    wrap = _sub(processing_obj, "metadataWrap", mimeType="text/xml", vocabularyName="SAFE",
                textInfo="Processing")  # fmt: skip
    _sub(_sub(wrap, "xmlData"), "safe:processing", name="Level-2A Processing",
         start=_time_us(product.generation), stop=_time_us(product.generation))  # fmt: skip

    objects = _sub(root, "dataObjectSection")
    checksum = "SHA3-256" if product.offset else "MD5"
    for member in members:
        stream = _sub(
            _sub(objects, "dataObject", ID=member.object_id),
            "byteStream",
            mimeType="application/xml"
            if member.path.endswith(".xml")
            else "application/octet-stream",
            size=member.size,
        )
        _sub(stream, "fileLocation", href=f"./{member.path}", locatorType="URL")
        _sub(stream, "checksum", member.checksum, checksumName=checksum)
    return _serialize(root)
