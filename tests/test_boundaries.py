import geopandas as gpd
import pytest
import shapely

from eolab.aoi import TUTORIAL_AOI_WKT
from eolab.errors import CRSError, EolabError
from eolab.io.boundaries import national_level_name, read_admin_units

ABS_LGAS_IN_AOI = {"Blacktown", "Blue Mountains", "Cumberland", "Hawkesbury", "Parramatta",
                   "Penrith", "The Hills"}  # stated in realdata/abs_lga_2023_simplified/SOURCE.md


def test_national_level_name():
    assert [national_level_name(i) for i in range(4)] == ["1stOrder", "2ndOrder", "3rdOrder",
                                                          "4thOrder"]


def test_read_admin_units__gadm_columns(tmp_path):
    gdf = gpd.GeoDataFrame({"GID_0": ["AUS"], "NAME_0": ["Australia"], "GID_1": ["AUS.2_1"],
                            "NAME_1": ["New South Wales"], "GID_2": ["AUS.2.40_1"],
                            "NAME_2": ["Hawkesbury"]},
                           geometry=[shapely.box(150.5, -33.6, 150.8, -33.3)], crs=4326)
    path = tmp_path / "gadm41_AUS_2.gpkg"
    gdf.to_file(path)
    units = read_admin_units(path, aoi=TUTORIAL_AOI_WKT)
    assert units.loc[0, "name"] == "Hawkesbury" and units.loc[0, "national_level"] == "3rdOrder"
    assert units.loc[0, "code"] == "AUS.2.40_1" and units.crs.to_epsg() == 4326


def test_read_admin_units__repairs_and_reprojects():
    bowtie = shapely.Polygon([(300000, 6270000), (310000, 6280000), (310000, 6270000),
                              (300000, 6280000), (300000, 6270000)])
    gdf = gpd.GeoDataFrame({"unit": ["x"]}, geometry=[bowtie], crs=32756)
    units = read_admin_units(gdf, name_column="unit", national_level="3rdOrder")
    assert units.geometry.is_valid.all() and units.crs.to_epsg() == 4326
    assert 150.0 < units.total_bounds[0] < 151.5


def test_read_admin_units__no_crs_projected_is_refused():
    gdf = gpd.GeoDataFrame({"name": ["x"]}, geometry=[shapely.box(300000, 6270000, 310000, 6280000)])
    with pytest.raises(CRSError, match="crs="):
        read_admin_units(gdf)


def test_read_admin_units__unknown_columns():
    gdf = gpd.GeoDataFrame({"foo": ["x"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
    with pytest.raises(EolabError, match="name_column"):
        read_admin_units(gdf)


@pytest.mark.realdata
def test_read_admin_units__abs_lga_geojson_and_topojson(realdata):
    folder = realdata / "abs_lga_2023_simplified"
    geojson = read_admin_units(folder / "LGA_2023_AUST_GDA94.json", aoi=TUTORIAL_AOI_WKT)
    assert set(geojson["name"]) == ABS_LGAS_IN_AOI
    assert (geojson["national_level"] == "3rdOrder").all() and (geojson["source"] == "ABS").all()
    assert "13800" in set(geojson["code"])  # Hawkesbury
    with pytest.warns(UserWarning, match="declares no CRS"):
        topo = read_admin_units(folder / "LGA_2023_NSW_GDA2020.json", aoi=TUTORIAL_AOI_WKT)
    assert set(topo["name"]) == ABS_LGAS_IN_AOI
