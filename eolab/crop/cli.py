"""Functions behind ``eolab crop ...`` and the tutorial's crop step; the shipped model.

``eolab crop composites``  → :func:`cli_composites`
``eolab crop train``       → :func:`cli_train`
``eolab crop classify``    → :func:`cli_classify`
``eolab tutorial``         → :func:`tutorial_crop_map` (the crop-mapping step)

The shipped model (:data:`SHIPPED_MODEL`, ``eolab/crop/models/simulated``)
is trained by one command on the *simulated* TimeSen2Crop-format data of
:func:`eolab.samples.crop.write_crop_samples`::

    python -m eolab.crop.cli            # writes the samples into a temporary folder
    python -m eolab.crop.cli DATA_DIR   # a samples folder holding timesen2crop/

(6 epochs of :func:`eolab.crop.train.fit`, seed 0, CPU; ``eolab crop train
--data DATA_DIR/timesen2crop --out DIR --epochs 6`` trains the same model
without the config's note.)

It knows only the simulated crops: it is a stand-in that lets the tutorial
classify in seconds, not a model of real Austrian fields. To map real fields,
download TimeSen2Crop and train one with
``eolab crop train --data TimeSen2Crop/ --out my_model``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SHIPPED_MODEL", "cli_classify", "cli_composites", "cli_train", "tutorial_crop_map"]

#: Folder of the pre-trained model shipped with the package (simulated crops only).
SHIPPED_MODEL = Path(__file__).parent / "models" / "simulated"
_SHIPPED_NOTE = ("Trained on the simulated TimeSen2Crop-format data of "
                 "eolab.samples.crop.write_crop_samples (seed {seed}); it knows only the "
                 "simulated crops, not real ones. Train a real model with "
                 "'eolab crop train --data TimeSen2Crop/ --out MODEL_DIR'.")


def cli_train(data: str | os.PathLike[str], out: str | os.PathLike[str], *,
              epochs: int | None = None, seed: int = 0, device: str = "auto",
              tiles: list[str] | None = None, overwrite: bool = False,
              progress: bool = True) -> Path:
    """Train a crop classifier on a TimeSen2Crop-format folder and save it (``eolab crop train``).

    The acquisitions are reduced to 12 monthly medians of unflagged
    observations (September–August, gaps interpolated:
    :func:`eolab.crop.dataset.read_timesen2crop` with ``monthly=True``), the
    same steps as :func:`eolab.crop.composites.monthly` gives for a cube, and
    :func:`eolab.crop.train.fit` trains on them with its defaults.

    Parameters
    ----------
    data
        TimeSen2Crop-format folder (``<tile>/dates.csv``, ``<tile>/<class>/<i>.csv``).
    out
        Model folder to write (``weights.safetensors``, ``config.json``).
    epochs
        Training epochs (default: ``fit``'s).
    seed, device
        As in :func:`eolab.crop.train.fit`.
    tiles
        Tile folders to read (default all).
    overwrite
        Replace a model already in ``out``.
    progress
        Progress bars.

    Returns
    -------
    Path
        The model folder.

    Raises
    ------
    DatasetFormatError
        ``data`` is not TimeSen2Crop-shaped.
    OutputError
        ``out`` already holds a model and ``overwrite`` is False.
    """
    from eolab.crop.dataset import read_timesen2crop
    from eolab.crop.train import fit
    from eolab.errors import OutputError

    folder = Path(out)
    if not overwrite and (folder / "config.json").exists():
        raise OutputError(f"{folder} already holds a model; pass overwrite=True to replace it")
    samples = read_timesen2crop(data, tiles=tiles, monthly=True, progress=progress)
    options: dict[str, Any] = {"bands": list(samples.bands), "seed": seed, "device": device,
                               "progress": progress}
    if epochs is not None:
        options["epochs"] = int(epochs)
    model = fit(samples.x, samples.y, **options)
    model.training["data"] = str(Path(data).name)
    model.training["steps"] = [str(m) for m in samples.time]
    return model.save(folder, overwrite=overwrite)


#: Epochs of the shipped model: the simulated data are easy, 6 one-cycle epochs reach
#: about 0.99 validation accuracy (65 s on 2 CPU cores, samples included).
SHIPPED_EPOCHS = 6


def train_shipped_model(data: str | os.PathLike[str] | None = None, *,
                        out: str | os.PathLike[str] = SHIPPED_MODEL, seed: int = 0,
                        epochs: int | None = SHIPPED_EPOCHS) -> Path:
    """Retrain the shipped model from the simulated samples (written to a temp folder if absent).

    ``data`` is a samples folder holding ``timesen2crop/`` (or the
    TimeSen2Crop folder itself); default: fresh samples of the default seed.
    Trains on CPU with ``fit``'s defaults except ``epochs``
    (:data:`SHIPPED_EPOCHS`), and adds a note to the config saying that the
    model knows only the simulated crops.
    """
    import json

    from eolab.samples.crop import DEFAULT_SEED, TIMESEN2CROP_DIR, write_crop_samples

    with tempfile.TemporaryDirectory(prefix="eolab-crop-train-") as tmp:
        if data is None:
            write_crop_samples(tmp)
            root = Path(tmp) / TIMESEN2CROP_DIR
        else:
            root = Path(data)
            if (root / TIMESEN2CROP_DIR).is_dir():
                root = root / TIMESEN2CROP_DIR
        folder = cli_train(root, out, epochs=epochs, seed=seed, device="cpu", overwrite=True)
    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["training"]["note"] = _SHIPPED_NOTE.format(seed=DEFAULT_SEED)
    tmp_cfg = cfg_path.with_suffix(".json.tmp")
    tmp_cfg.write_text(json.dumps(cfg, indent=2))
    os.replace(tmp_cfg, cfg_path)
    return folder


def cli_composites(cube: str | os.PathLike[str], output: str | os.PathLike[str], *,
                   statistic: str = "median", fill: str | None = "linear", snow: bool = True,
                   dilation: int = 0, months: tuple[str, str] | None = None) -> Path:
    """Monthly composites of a cube's clear observations as NetCDF (``eolab crop composites``).

    Parameters
    ----------
    cube
        NetCDF cube (:func:`eolab.crop.timeseries.open_cube`).
    output
        NetCDF file to write (atomically).
    statistic, fill, months
        As in :func:`eolab.crop.composites.monthly`.
    snow, dilation
        SCL mask options: snow counts as not clear by default (as in
        TimeSen2Crop's flags); dilation of the cloud mask in pixels.
    """
    from eolab.crop.composites import monthly, write_composites
    from eolab.crop.timeseries import open_cube

    opts: dict[str, Any] = {"snow": snow}
    if dilation:
        opts["dilation"] = int(dilation)
    comp = monthly(open_cube(cube), statistic=statistic, fill=fill, months=months, **opts)
    return write_composites(comp, output)


def _composites_of(path: Path) -> Any:
    """Composites from a composites NetCDF, or computed from a cube NetCDF."""
    import xarray as xr

    from eolab.crop.composites import monthly
    from eolab.crop.timeseries import open_cube
    from eolab.errors import ProductError

    try:
        with xr.open_dataset(path) as probe:
            is_composite = "month" in probe.dims and "filled" in probe
    except (OSError, ValueError) as exc:
        raise ProductError(f"cannot read {path} as NetCDF: {exc}") from exc
    if is_composite:
        ds = xr.open_dataset(path, decode_coords="all").load()
        if ds.rio.crs is None and "spatial_ref" in ds.coords:
            ds = ds.rio.write_crs(ds["spatial_ref"].attrs.get("crs_wkt"))
        return ds
    return monthly(open_cube(path), snow=True).compute()


def cli_classify(cube_or_composites: str | os.PathLike[str], output: str | os.PathLike[str], *,
                 model: str | os.PathLike[str] | None = None,
                 parcels: str | os.PathLike[str] | None = None, modal: int = 0,
                 progress: bool = True) -> Path:
    """Classify a cube (or its monthly composites) and write the crop map (``eolab crop classify``).

    Parameters
    ----------
    cube_or_composites
        A NetCDF cube (composited first, snow masked) or composites from
        :func:`cli_composites`.
    output
        GeoTIFF to write (atomically), e.g. ``crop_map.tif``.
    model
        Model folder (default: :data:`SHIPPED_MODEL`, simulated crops only).
    parcels
        Vector file of parcels: majority vote within each
        (:func:`eolab.crop.postprocess.parcel_majority`).
    modal
        Modal-filter window (odd, pixels) applied when no parcels are given; 0: none.
    progress
        Progress bar over pixel chunks.
    """
    import geopandas as gpd

    from eolab.crop.model import load
    from eolab.crop.postprocess import modal_filter, parcel_majority, write_crop_map
    from eolab.crop.predict import classify_cube

    clf = load(model if model is not None else SHIPPED_MODEL)
    comp = _composites_of(Path(cube_or_composites))
    result = classify_cube(comp, clf, bands=clf.bands, progress=progress)
    if parcels is not None:
        crop = parcel_majority(result, gpd.read_file(parcels))
    elif modal:
        crop = modal_filter(result["crop_class"], size=modal)
    else:
        crop = result["crop_class"]
    return write_crop_map(crop, output, labels=clf.labels)


def tutorial_crop_map(samples_dir: str | os.PathLike[str],
                      outdir: str | os.PathLike[str]) -> list[Path]:
    """The tutorial's crop step: composites, shipped model, parcel vote, ``crop_map.tif``.

    Prints pixel-level (before post-processing) and parcel-level (after the
    parcel vote) overall accuracy against ``crop_parcels_truth.gpkg``.

    Returns
    -------
    list of Path
        ``[outdir / "crop_map.tif"]``.
    """
    import geopandas as gpd

    from eolab.crop.composites import monthly
    from eolab.crop.metrics import overall_accuracy
    from eolab.crop.model import load
    from eolab.crop.postprocess import (
        parcel_labels,
        parcel_majority,
        rasterize_parcels,
        write_crop_map,
    )
    from eolab.crop.predict import NODATA, classify_cube
    from eolab.crop.timeseries import open_cube
    from eolab.samples.crop import CROP_CUBE, CROP_PARCELS

    src, dst = Path(samples_dir), Path(outdir)
    dst.mkdir(parents=True, exist_ok=True)
    clf = load(SHIPPED_MODEL)
    comp = monthly(open_cube(src / CROP_CUBE), snow=True).compute()
    result = classify_cube(comp, clf, bands=clf.bands, progress=False)
    parcels = gpd.read_file(src / CROP_PARCELS)
    voted = parcel_majority(result, parcels)
    out = write_crop_map(voted, dst / "crop_map.tif", labels=clf.labels)
    ids = rasterize_parcels(parcels, result["crop_class"])
    truth = parcels["crop_class"].to_numpy()
    truth_px = np.where(ids.values > 0, truth[np.maximum(ids.values - 1, 0)], NODATA)
    inside = ids.values > 0
    pixel_oa = overall_accuracy(truth_px[inside], result["crop_class"].values[inside])
    parcel_pred = parcel_labels(voted, ids)
    parcel_oa = overall_accuracy(truth, parcel_pred)
    print(f"crop map: pixel-level OA {pixel_oa:.3f} (no post-processing), "
          f"parcel-level OA {parcel_oa:.3f} ({len(parcels)} parcels, majority vote)")
    return [out]


if __name__ == "__main__":  # python -m eolab.crop.cli [SAMPLES_OR_TIMESEN2CROP_DIR]
    print(train_shipped_model(sys.argv[1] if len(sys.argv) > 1 else None))
