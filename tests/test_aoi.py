import json

import geopandas as gpd
import pytest
import shapely

from eolab.aoi import TUTORIAL_AOI_WKT, aoi_bounds, aoi_to_crs, parse_aoi
from eolab.errors import AOIError, CRSError, EolabError


def test_parse_aoi__wkt():
    geom, crs = parse_aoi(TUTORIAL_AOI_WKT)
    assert crs.to_epsg() == 4326
    assert geom.bounds == pytest.approx((150.6266, -33.795, 150.952, -33.49))


def test_parse_aoi__geojson_feature_collection():
    geom = shapely.box(150.7, -33.7, 150.8, -33.6)
    fc = {"type": "FeatureCollection",
          "features": [{"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(geom)}]}
    parsed, _ = parse_aoi(json.dumps(fc))
    assert parsed.equals(geom)


def test_parse_aoi__bbox_and_geoseries():
    geom, _ = parse_aoi((150.7, -33.7, 150.8, -33.6))
    assert geom.area == pytest.approx(0.01)
    series = gpd.GeoSeries([shapely.box(290000, 6270000, 300000, 6280000)], crs=32756)
    geom2, crs2 = parse_aoi(series)
    assert crs2.to_epsg() == 32756 and geom2.area == pytest.approx(1e8)


@pytest.mark.parametrize("bad", ["POLYGON((1 2, 3 4", "", "{not json", "POINT(150 -33)",
                                 "POLYGON((0 0, 1 0, 1 0, 0 0))"])
def test_parse_aoi__invalid(bad):
    with pytest.raises(AOIError) as info:
        parse_aoi(bad)
    assert isinstance(info.value, EolabError) and str(info.value)


def test_parse_aoi__projected_coordinates_without_crs():
    with pytest.raises(AOIError, match="out of range"):
        parse_aoi("POLYGON((290000 6270000, 300000 6270000, 300000 6280000, 290000 6270000))")


def test_parse_aoi__geoseries_without_crs():
    with pytest.raises(CRSError):
        parse_aoi(gpd.GeoSeries([shapely.box(0, 0, 1, 1)]))


def test_aoi_to_crs__tutorial_aoi_in_utm56s():
    minx, miny, maxx, maxy = aoi_bounds(TUTORIAL_AOI_WKT, 32756)
    # the AOI's east edge lies ~0.6 km east of tile T56HKH (x = 309780)
    assert 500 < maxx - 309780 < 700
    assert 279000 < minx < 280000 and 6258000 < miny < 6258100
    utm = aoi_to_crs(TUTORIAL_AOI_WKT, "EPSG:32756")
    assert utm.is_valid and 30.0 < utm.area / 1e6 / 34.0 < 31.0
