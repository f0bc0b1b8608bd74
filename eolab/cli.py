"""The ``eolab`` command: a thin front end over the public API.

Errors that eolab raises on purpose (:class:`eolab.errors.EolabError`) end
the command with a one-line message on stderr and exit code 1; usage errors
exit with 2 (argparse). Every command that writes into a folder accepts both
``-outdir`` (the tutorial's spelling) and ``--outdir``.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

from eolab import __version__
from eolab.errors import EolabError

__all__ = ["main", "build_parser"]


def _add_outdir(parser: argparse.ArgumentParser, *, default: str | None = None,
                required: bool = False) -> None:
    parser.add_argument("-outdir", "--outdir", dest="outdir", default=default, required=required,
                        metavar="DIR", help="output folder (created if needed)")


def _add_service_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by the services that write outputs: overwrite, quiet, outdir."""
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_outdir(parser, default=".")


def _cmd_tutorial(args: argparse.Namespace) -> int:
    from eolab.tutorial import run_tutorial

    run_tutorial(args.outdir, samples=args.samples)
    return 0


def _cmd_samples_build(args: argparse.Namespace) -> int:
    from eolab.samples import DEFAULT_SEED, build_samples

    seed = DEFAULT_SEED if args.seed is None else args.seed
    paths = build_samples(args.dest, seed=seed, progress=not args.quiet)
    for path in paths:
        print(f"wrote {path}")
    return 0


def _cmd_samples_verify(args: argparse.Namespace) -> int:
    from eolab.samples import verify_samples

    problems = verify_samples(args.dest)
    if problems:
        for line in problems:
            print(line, file=sys.stderr)
        print(f"eolab: error: {len(problems)} sample file(s) differ from the registry",
              file=sys.stderr)
        return 1
    print("samples match the registry")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from eolab.io.fetch import TUTORIAL_PRODUCTS, fetch

    names = list(args.names)
    if args.tutorial:
        names += [n for n in TUTORIAL_PRODUCTS if n not in names]
    if not names:
        raise EolabError("give product names, or --tutorial for the tutorial's four products")
    password = None
    if args.user and not os.environ.get("CDSE_PASSWORD") and sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"CDSE password for {args.user}: ")
    paths = fetch(names, outdir=args.outdir, username=args.user, password=password,
                  progress=not args.quiet)
    for path in paths:
        print(f"wrote {path}")
    return 0


class _Steps:
    """Progress over the named steps of a service (tqdm on stderr)."""

    def __init__(self, names: list[str], *, desc: str, quiet: bool) -> None:
        from tqdm.auto import tqdm

        self.started = False
        self.bar = tqdm(total=len(names), desc=desc, disable=quiet, unit="step",
                        bar_format="{desc}: {n_fmt}/{total_fmt} {postfix}")

    def __call__(self, name: str) -> None:
        if self.started:
            self.bar.update(1)
        self.started = True
        self.bar.set_postfix_str(name)

    def close(self) -> None:
        self.bar.update(self.bar.total - self.bar.n)
        self.bar.close()


def _cmd_s2cd(args: argparse.Namespace) -> int:
    from eolab.workflows import s2_change_detection

    bands = [b for b in args.bands.replace(" ", "").split(",") if b]
    steps = _Steps(["read", "cva", "classes", "write"], desc="S2-CD", quiet=args.quiet)
    paths = s2_change_detection(args.i1, args.i2, bands=bands, resolution=args.resolution,
                                aoi=args.polygon, outdir=args.outdir, threshold=args.threshold,
                                method=args.method, overwrite=args.overwrite, step=steps)
    steps.close()
    for path in paths.values():
        print(f"wrote {path}")
    return 0


def _cmd_s1cd(args: argparse.Namespace) -> int:
    from eolab.workflows import s1_change_detection

    steps = _Steps(["open", "bursts", "map", "composites", "write"], desc="S1-CD",
                   quiet=args.quiet)
    window = tuple(int(v) for v in args.window.lower().replace("x", ",").split(","))
    if len(window) != 2:
        raise EolabError(f"--window takes two sizes, azimuth x range (e.g. 3x10); got "
                         f"{args.window!r}")
    paths = s1_change_detection(args.i1, args.i2, resolution=args.resolution, aoi=args.polygon,
                                pol=args.pol, outdir=args.outdir, dem=args.dem, db=args.db,
                                window=window, flood=args.flood,  # type: ignore[arg-type]
                                coherence=not args.no_coherence,
                                overwrite=args.overwrite,
                                step=steps, progress=not args.quiet)
    steps.close()
    for path in paths.values():
        print(f"wrote {path}")
    return 0


def _cmd_flood_mask(args: argparse.Namespace) -> int:
    from eolab.workflows import flood_mask_from_rasters

    steps = _Steps(["read", "vectorise", "write"], desc="flood-mask", quiet=args.quiet)
    paths = flood_mask_from_rasters(args.input, outdir=args.outdir, classes_raster=args.classes,
                                    flood_only=args.flood_only, sieve_size=args.sieve,
                                    min_level=args.min_level, overwrite=args.overwrite,
                                    step=steps)
    steps.close()
    for path in paths:
        print(f"wrote {path}")
    return 0


def _readable(path: str, what: str) -> str:
    if not os.path.isfile(path):
        raise EolabError(f"{what} {path} not found")
    return path


def _cmd_generate_mapping(args: argparse.Namespace) -> int:
    from eolab.linked.mapping import cli_generate_mapping

    text = cli_generate_mapping(_readable(args.layer, "layer"), output=args.output,
                                base_iri=args.base_iri, rml=args.rml, style=args.style,
                                overwrite=args.overwrite)
    if args.output is None:
        sys.stdout.write(text)
    else:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _cmd_dump_rdf(args: argparse.Namespace) -> int:
    from eolab.linked.export import cli_dump_rdf

    report = cli_dump_rdf(_readable(args.mapping, "mapping"), output=args.output,
                          base_iri=args.base_iri, shapefile=_readable(args.shapefile, "layer"),
                          format=args.format, crs84=args.crs84, overwrite=args.overwrite)
    print(f"{report.features} features, {report.triples} triples -> {report.path}",
          file=sys.stderr)
    return 0


def _cmd_admin_units(args: argparse.Namespace) -> int:
    from eolab.linked.admin import cli_admin_units

    report = cli_admin_units(_readable(args.input, "boundary file"), output=args.output,
                             name_field=args.name_field, code_field=args.code_field,
                             level=args.level, language=args.language, crs84=args.crs84,
                             layer=args.layer, overwrite=args.overwrite)
    print(f"{report.features} units, {report.triples} triples -> {report.path}", file=sys.stderr)
    return 0


def _cmd_store_load(args: argparse.Namespace) -> int:
    from eolab.linked.queries import cli_load

    n = cli_load(args.db, _readable(args.file, "RDF file"), graph=args.graph, format=args.format)
    print(f"{n} triples loaded", file=sys.stderr)
    return 0


def _cmd_store_query(args: argparse.Namespace) -> int:
    from eolab.linked.queries import cli_query

    text = cli_query(args.db, _readable(args.query, "query file"), format=args.format,
                     output=args.output)
    if args.output is None:
        sys.stdout.write(text)
    return 0


def _cmd_map(args: argparse.Namespace) -> int:
    from eolab.maps import cli_map

    path = cli_map(args.db, args.layer, args.output, title=args.title, color_by=args.color_by,
                   cmap=args.cmap, offline=not args.online)
    print(f"wrote {path}")
    return 0


def _cmd_crop_composites(args: argparse.Namespace) -> int:
    from eolab.crop.composites import monthly, write_composites
    from eolab.crop.timeseries import open_cube

    cube = open_cube(_readable(args.cube, "cube"))
    if args.bands:
        from eolab.errors import BandError

        bands = [b for b in args.bands.replace(" ", "").split(",") if b]
        missing = [b for b in bands if b not in cube["band"].values]
        if missing:
            raise BandError(f"band(s) {', '.join(missing)} not in the cube (it has "
                            f"{', '.join(map(str, cube['band'].values))})")
        cube = cube.sel(band=bands)
    composites = monthly(cube, statistic=args.statistic,
                         fill=None if args.fill == "none" else args.fill,
                         months=tuple(args.months) if args.months else None,
                         snow=not args.keep_snow, dilation=args.dilation)
    path = write_composites(composites, args.output)
    share = float(composites["filled"].mean())
    print(f"wrote {path} ({composites.sizes['month']} months; {100 * share:.1f} % of "
          "(pixel, month) cells filled by interpolation)")
    return 0


def _cmd_crop_train(args: argparse.Namespace) -> int:
    from eolab.crop.dataset import read_timesen2crop
    from eolab.crop.train import fit

    samples = read_timesen2crop(args.data, tiles=args.tiles or None,
                                monthly=not args.no_monthly, progress=not args.quiet)
    model = fit(samples.x, samples.y, bands=list(samples.bands), epochs=args.epochs,
                seed=args.seed, device=args.device, progress=not args.quiet)
    path = model.save(args.out, overwrite=args.overwrite)
    print(f"wrote {path} ({len(samples.y)} sequences, {samples.x.shape[1]} steps)")
    return 0


def _cmd_crop_classify(args: argparse.Namespace) -> int:
    from eolab.crop.cli import cli_classify

    path = cli_classify(_readable(args.cube, "cube"), args.output, model=args.model,
                        parcels=args.parcels, modal=args.modal, progress=not args.quiet)
    print(f"wrote {path}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from eolab.io.sentinel2 import read_metadata

    meta = read_metadata(args.product)
    print(f"product:             {meta.name}")
    print(f"type:                {meta.product_type} (baseline {meta.processing_baseline})")
    print(f"spacecraft:          {meta.spacecraft}, relative orbit {meta.relative_orbit}")
    print(f"sensing start:       {meta.datetime}")
    print(f"tile:                T{meta.tile_id}")
    print(f"quantification:      {meta.quantification_value:g}")
    offsets = sorted(set(meta.boa_add_offsets.values()))
    print(f"BOA add offset(s):   {', '.join(f'{o:g}' for o in offsets)}")
    if meta.cloud_cover is not None:
        print(f"cloud cover:         {meta.cloud_cover:g} %")
    bands = sorted(meta.files, key=lambda br: (br[1], br[0]))
    print("images:              " + ", ".join(f"{b}@{r}m" for b, r in bands))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``eolab`` command."""
    parser = argparse.ArgumentParser(
        prog="eolab",
        description="AI on Earth observation, hands-on: the AI4Copernicus tutorial offline.",
    )
    parser.add_argument("--version", action="version", version=f"eolab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("tutorial", help="run every available tutorial step on the samples")
    _add_outdir(p, required=True)
    p.add_argument("--samples", metavar="DIR", default=None,
                   help="sample folder (default: $EOLAB_DATA_DIR or ./data_samples)")
    p.set_defaults(func=_cmd_tutorial)

    p = sub.add_parser("samples", help="build or verify the simulated sample data")
    ssub = p.add_subparsers(dest="samples_command", metavar="ACTION")
    b = ssub.add_parser("build", help="generate the samples deterministically")
    b.add_argument("--dest", "-outdir", "--outdir", dest="dest", metavar="DIR", default=None,
                   help="target folder (default: $EOLAB_DATA_DIR or ./data_samples)")
    b.add_argument("--seed", type=int, default=None,
                   help="draw another landscape and flood with the same statistics")
    b.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=_cmd_samples_build)
    v = ssub.add_parser("verify", help="compare the samples with the checksum registry")
    v.add_argument("--dest", metavar="DIR", default=None)
    v.set_defaults(func=_cmd_samples_verify)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    p = sub.add_parser("fetch", help="download real products from the Copernicus Data Space")
    p.add_argument("names", nargs="*", metavar="NAME", help="product names (with or without .SAFE)")
    p.add_argument("--tutorial", action="store_true", help="the tutorial's four products")
    p.add_argument("--user", default=None,
                   help="CDSE user name (default: $CDSE_USERNAME or ~/.netrc); the password "
                        "comes from $CDSE_PASSWORD or ~/.netrc")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    _add_outdir(p, default=".")
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("S2-CD", help="Sentinel-2 change detection (CVA raster and change classes)")
    p.add_argument("-i1", dest="i1", required=True, metavar="BEFORE.zip", help="L2A product, date 1")
    p.add_argument("-i2", dest="i2", required=True, metavar="AFTER.zip", help="L2A product, date 2")
    p.add_argument("-b", "--bands", default="B3,B4,B8", help="comma-separated bands (B3,B4,B8)")
    p.add_argument("-r", "--resolution", type=int, default=20, help="10, 20 or 60 m (20)")
    p.add_argument("-p", "--polygon", default=None, metavar="WKT",
                   help="AOI as WKT or GeoJSON in EPSG:4326 (default: the whole product)")
    p.add_argument("--threshold", type=float, default=None,
                   help="fixed no-change/change threshold in reflectance percent")
    p.add_argument("--method", default="ki", choices=["otsu", "ki", "em"],
                   help="automatic threshold when --threshold is not given (ki)")
    _add_service_options(p)
    p.set_defaults(func=_cmd_s2cd)

    p = sub.add_parser("S1-CD", help="Sentinel-1 change detection (sigma0, coherence, ACD, MTC)")
    p.add_argument("-i1", dest="i1", required=True, metavar="A.zip",
                   help="IW SLC product, date 1 (reference)")
    p.add_argument("-i2", dest="i2", required=True, metavar="B.zip",
                   help="IW SLC product, date 2 (same track)")
    p.add_argument("-r", "--resolution", type=float, default=20,
                   help="output pixel size in metres (20)")
    p.add_argument("-p", "--polygon", required=True, metavar="WKT",
                   help="AOI as WKT or GeoJSON in EPSG:4326")
    p.add_argument("--pol", default="VV", choices=["VV", "VH", "HH", "HV"],
                   help="polarisation (VV)")
    p.add_argument("--dem", default=None, metavar="DEM.tif",
                   help="terrain heights above the WGS84 ellipsoid (default: flat at the "
                        "product's mean geolocation height)")
    p.add_argument("--db", action="store_true", help="write sigma0 in dB instead of linear")
    p.add_argument("--flood", action="store_true",
                   help="also write S1_FLOOD_...tif (flood from the backscatter decrease)")
    p.add_argument("--no-coherence", action="store_true",
                   help="sigma0 and ACD only (no coregistration; also for GRD products)")
    p.add_argument("--window", default="3x10", metavar="AZxRG",
                   help="coherence window, azimuth x range samples (3x10)")
    _add_service_options(p)
    p.set_defaults(func=_cmd_s1cd)

    p = sub.add_parser("flood-mask", help="flood polygons with floodLevel from a CVA raster")
    p.add_argument("-i", "--input", required=True, metavar="CVA_RASTER",
                   help="S2_CVA_... raster (band 1: magnitude in percent)")
    p.add_argument("--sieve", type=int, default=10, help="minimum region size in pixels (10)")
    p.add_argument("--min-level", type=int, default=4, help="keep floodLevel >= this (4)")
    p.add_argument("--classes", default=None, metavar="S2CD_RASTER",
                   help="S2_CD_... class raster (for --flood-only)")
    p.add_argument("--flood-only", action="store_true",
                   help="keep only the flooding class, drop clouds -> flood_extent.gpkg")
    _add_service_options(p)
    p.set_defaults(func=_cmd_flood_mask)

    p = sub.add_parser("geotriples", help="GeoTriples-compatible mappings and RDF dumps")
    gsub = p.add_subparsers(dest="geotriples_command", metavar="ACTION")
    g = gsub.add_parser("generate_mapping", help="R2RML/RML mapping of a Shapefile/GeoPackage")
    g.add_argument("layer", help="Shapefile or GeoPackage")
    g.add_argument("-o", "--output", default=None, help="mapping file (default: standard output)")
    g.add_argument("-b", "--base-iri", required=True, help="base IRI, e.g. http://ai.di.uoa.gr/flood/")
    g.add_argument("-rml", "--rml", action="store_true", help="RML instead of R2RML")
    g.add_argument("--style", choices=["tutorial", "geotriples"], default="tutorial",
                   help="property naming: the tutorial's has_<field> (default) or GeoTriples' own")
    g.add_argument("--overwrite", action="store_true", help="replace an existing output")
    g.set_defaults(func=_cmd_generate_mapping)
    g = gsub.add_parser("dump_rdf", help="apply a mapping to a layer, write N-Triples/Turtle")
    g.add_argument("mapping", help="R2RML/RML mapping (Turtle)")
    g.add_argument("-o", "--output", required=True, help="RDF file (.nt or .ttl)")
    g.add_argument("-b", "--base-iri", default="http://ai.di.uoa.gr/flood/",
                   help="base IRI of features and geometries")
    g.add_argument("-sh", "--shapefile", required=True, help="Shapefile or GeoPackage")
    g.add_argument("-f", "--format", choices=["nt", "ttl"], default=None)
    g.add_argument("--crs84", action="store_true",
                   help="WKT in CRS84 (strict GeoSPARQL 1.1) instead of EPSG:4326")
    g.add_argument("--overwrite", action="store_true", help="replace an existing output")
    g.set_defaults(func=_cmd_dump_rdf)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    p = sub.add_parser("admin-units", help="boundary file -> GADM-vocabulary RDF")
    p.add_argument("-i", "--input", required=True, help="boundary file (GeoPackage, GeoJSON...)")
    p.add_argument("-o", "--output", required=True, help="RDF file (.nt or .ttl)")
    p.add_argument("--name-field", default=None, help="field holding the unit names")
    p.add_argument("--code-field", default=None, help="field holding unique unit codes")
    p.add_argument("--level", default=None, help="national level, e.g. 3rdOrder")
    p.add_argument("--language", default="en", help="language tag of the names (en)")
    p.add_argument("--layer", default=None, help="layer of a multi-layer file")
    p.add_argument("--crs84", action="store_true", help="WKT in CRS84 instead of EPSG:4326")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=_cmd_admin_units)

    p = sub.add_parser("store", help="GeoSPARQL store: load RDF layers, run SPARQL queries")
    ssub2 = p.add_subparsers(dest="store_command", metavar="ACTION")
    q = ssub2.add_parser("load", help="load an RDF file into a named graph, replacing it")
    q.add_argument("--db", required=True, help="store folder (created if missing) or SPARQL "
                   "endpoint URL")
    q.add_argument("file", help="RDF file (.nt, .ttl, ...)")
    q.add_argument("--graph", default=None, help="named graph IRI (default: the file's URI)")
    q.add_argument("--format", default=None, help="RDF format when the extension does not say")
    q.set_defaults(func=_cmd_store_load)
    q = ssub2.add_parser("query", help="run a SPARQL query file")
    q.add_argument("--db", required=True, help="store folder or SPARQL endpoint URL")
    q.add_argument("query", help="file holding the query (.rq)")
    q.add_argument("--format", choices=["csv", "json", "geojson"], default="csv")
    q.add_argument("-o", "--output", default=None, help="output file (default: standard output)")
    q.set_defaults(func=_cmd_store_query)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    p = sub.add_parser("map", help="SPARQL SELECT results as layers of a standalone HTML map "
                       "(Sextant-style)")
    p.add_argument("--db", required=True, help="store folder (read-only) or SPARQL endpoint URL")
    p.add_argument("--layer", action="append", required=True, metavar="NAME=QUERY_FILE",
                   help="layer name and a file holding a SELECT query with a WKT variable "
                        "(repeatable; drawn in order, last on top)")
    p.add_argument("--color-by", action="append", default=[], metavar="NAME=VARIABLE",
                   help="colour layer NAME by a query variable (e.g. flood=floodLevel)")
    p.add_argument("--cmap", default="viridis", help="matplotlib colormap for --color-by")
    p.add_argument("--title", default=None, help="title on the map and of the page")
    p.add_argument("--online", action="store_true",
                   help="Leaflet from CDNs and an OpenStreetMap basemap (default: no network)")
    p.add_argument("-o", "--output", required=True, help="HTML page to write")
    p.set_defaults(func=_cmd_map)

    p = sub.add_parser("crop", help="exercise 2: composites, LSTM training and crop maps")
    csub = p.add_subparsers(dest="crop_command", metavar="ACTION")
    c = csub.add_parser("composites", help="monthly composites of clear observations")
    c.add_argument("--cube", required=True, help="image cube (NetCDF, eolab.crop.timeseries)")
    c.add_argument("-o", "--output", required=True, help="composites NetCDF to write")
    c.add_argument("--statistic", choices=["median", "mean", "min", "max"], default="median")
    c.add_argument("--fill", choices=["linear", "nearest", "none"], default="linear",
                   help="months without a clear observation (flagged either way)")
    c.add_argument("--months", nargs=2, metavar=("FIRST", "LAST"), default=None,
                   help="e.g. 2017-09 2018-08 (default: the series' months)")
    c.add_argument("--keep-snow", action="store_true",
                   help="count snow as clear (default: masked, as TimeSen2Crop's flags do)")
    c.add_argument("--dilation", type=int, default=0, help="grow cloud masks by N pixels")
    c.add_argument("--bands", default=None, help="comma-separated bands to keep, in order")
    c.set_defaults(func=_cmd_crop_composites)
    c = csub.add_parser("train", help="train the LSTM on a TimeSen2Crop-format folder")
    c.add_argument("--data", required=True, help="TimeSen2Crop-format root folder")
    c.add_argument("--out", required=True, help="model folder to write (safetensors + JSON)")
    c.add_argument("--tiles", nargs="*", default=None, help="tiles to use (default: all)")
    c.add_argument("--epochs", type=int, default=60)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    c.add_argument("--no-monthly", action="store_true",
                   help="train on the acquisition dates instead of 12 monthly medians")
    c.add_argument("--overwrite", action="store_true")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    c.set_defaults(func=_cmd_crop_train)
    c = csub.add_parser("classify", help="classify a cube or its composites into a crop map")
    c.add_argument("--cube", required=True,
                   help="cube NetCDF (composited first, snow masked) or composites NetCDF")
    c.add_argument("--model", default=None,
                   help="model folder (default: the shipped model, which knows only the "
                        "simulated crops)")
    c.add_argument("--parcels", default=None, help="parcel polygons: majority vote per parcel")
    c.add_argument("--modal", type=int, default=0,
                   help="modal filter window (odd) when no parcels are given")
    c.add_argument("-o", "--output", required=True, help="crop map GeoTIFF")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    c.set_defaults(func=_cmd_crop_classify)
    p.set_defaults(func=lambda a: (p.print_help(), 2)[1])

    p = sub.add_parser("info", help="show the metadata of a Sentinel-2 L2A product")
    p.add_argument("product", help="SAFE zip or folder")
    p.set_defaults(func=_cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``eolab`` command; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # GDAL's block cache defaults to 5 % of the RAM; rasters here are read once, in
    # chunks, so a small cache costs no speed and keeps a full tile's chain under 1.5 GB.
    os.environ.setdefault("GDAL_CACHEMAX", "256")
    original_format = warnings.formatwarning
    with warnings.catch_warnings():
        warnings.simplefilter("default", UserWarning)
        warnings.formatwarning = lambda msg, cat, *a, **k: f"eolab: warning: {msg}\n"
        try:
            return int(args.func(args) or 0)
        except EolabError as exc:
            print(f"eolab: error: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("eolab: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        finally:
            warnings.formatwarning = original_format


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

