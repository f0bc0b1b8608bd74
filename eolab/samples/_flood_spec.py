"""Constants of the simulated flood scene: grid, dates, bands, classes, spectra."""

from __future__ import annotations

from datetime import UTC, datetime

#: Seed of the bundled samples (the registry describes this one).
DEFAULT_SEED = 2021
#: Bumped whenever the generator's output changes for a given seed.
GENERATOR_VERSION = "3"
EPSG = 32756
TILE_ID = "56HKH"
#: Upper-left corner of tile T56HKH (ULX, ULY).
TILE_ORIGIN = (199980.0, 6300040.0)
#: The scene: the tutorial AOI's bounds snapped outward to 60 m, cut at the tile's east edge.
FULL_WINDOW = (279480.0, 6258040.0, 309780.0, 6292540.0)
DATES = ("20210315", "20210325")
SENSING_TIMES = {"20210315": datetime(2021, 3, 15, 0, 2, 41, tzinfo=UTC),
                 "20210325": datetime(2021, 3, 25, 0, 2, 41, tzinfo=UTC)}
GENERATION_TIMES = {"20210315": datetime(2021, 3, 15, 2, 3, 46, tzinfo=UTC),
                    "20210325": datetime(2021, 3, 25, 2, 26, 49, tzinfo=UTC)}
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
BAND_RESOLUTION = {"B01": 60, "B02": 10, "B03": 10, "B04": 10, "B05": 20, "B06": 20, "B07": 20,
                   "B08": 10, "B8A": 20, "B09": 60, "B11": 20, "B12": 20}
#: Standard deviation of the sensor noise (reflectance), every band and date.
NOISE_SIGMA = 0.006
LANDCOVER_CLASSES = {1: "permanent water", 2: "urban", 3: "forest", 4: "cropland",
                     5: "grassland", 6: "bare soil"}
CLOUD_CLASSES = {0: "clear", 1: "cloud", 2: "cloud shadow", 3: "thin cirrus"}

#: Endmember spectra (BOA reflectance) in the order of :data:`BANDS`.
ENDMEMBERS: dict[str, tuple[float, ...]] = {
    "clear water": (.045, .040, .038, .022, .016, .010, .009, .008, .007, .005, .003, .002),
    "turbid water": (.075, .085, .115, .125, .120, .085, .075, .068, .060, .035, .018, .010),
    "impervious": (.100, .110, .130, .150, .170, .190, .200, .210, .215, .190, .250, .220),
    "eucalypt canopy": (.022, .025, .048, .030, .080, .190, .230, .250, .265, .225, .140, .065),
    "green crop": (.025, .030, .070, .035, .110, .290, .370, .400, .415, .350, .210, .100),
    "green grass": (.035, .040, .075, .055, .115, .240, .290, .310, .325, .280, .240, .140),
    "dry grass": (.060, .070, .100, .135, .175, .215, .235, .250, .265, .235, .330, .250),
    "soil": (.070, .080, .110, .150, .180, .200, .215, .225, .240, .215, .310, .260),
    "cloud": (.560, .550, .545, .550, .555, .560, .565, .570, .570, .420, .400, .300),
    "haze": (.070, .058, .042, .028, .024, .021, .019, .016, .015, .012, .005, .002),
    "cirrus": (.040, .040, .039, .038, .038, .037, .037, .036, .036, .030, .028, .020),
}
#: Per class: (endmember A, endmember B, meaning of the mixing fraction m);
#: a pure pixel is ``K * (m * A + (1 - m) * B)``, K a brightness texture.
CLASS_ENDMEMBERS = {
    1: ("turbid water", "clear water", "turbidity"),
    2: ("green grass", "impervious", "garden fraction"),
    3: ("eucalypt canopy", "dry grass", "canopy cover"),
    4: ("green crop", "soil", "crop cover"),
    5: ("green grass", "dry grass", "greenness"),
    6: ("dry grass", "soil", "residue cover"),
}
#: Fraction of the surface signal removed under a full cloud shadow (skylight keeps blue).
_SHADOW_DEPTH = (.45, .50, .55, .60, .62, .64, .65, .66, .66, .66, .68, .70)
_TEXTURE = {1: .04, 2: .18, 3: .07, 4: .05, 5: .06, 6: .08}   # relative brightness texture
_CANOPY = {1: (1.0, 0.0), 2: (5.0, .6), 3: (15.0, .75), 4: (.8, 1.0), 5: (.3, 1.0),
           6: (.05, 1.0)}   # height (m), visible fraction when just flooded
_PSF_W = 0.1065  # 3-tap Gaussian PSF, sigma 0.5 px, of the 10 m bands

