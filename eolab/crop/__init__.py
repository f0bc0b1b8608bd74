"""Crop-type mapping: cloud masks, monthly composites, an LSTM on TimeSen2Crop-format data.

Names load on first use, so ``import eolab.crop.clouds`` does not import torch:

* :mod:`eolab.crop.timeseries` — ``open_cube``, ``write_cube`` (CF NetCDF image cubes);
* :mod:`eolab.crop.clouds` — ``cloud_mask``, ``clear_mask``, ``clear_fraction``, ``dilate_mask``;
* :mod:`eolab.crop.composites` — ``monthly``, ``write_composites``;
* :mod:`eolab.crop.dataset` — ``read_timesen2crop``, ``TimeSen2CropDataset``, ``CLASS_NAMES``;
* :mod:`eolab.crop.model` — ``CropClassifier``, ``load``; :mod:`eolab.crop.train` — ``fit``;
* :mod:`eolab.crop.metrics` — accuracy, kappa, per-class scores, confusion matrix.
"""

from __future__ import annotations

from eolab._lazy import lazy_getattr

_LAZY = {
    "open_cube": "eolab.crop.timeseries",
    "write_cube": "eolab.crop.timeseries",
    "cloud_mask": "eolab.crop.clouds",
    "clear_mask": "eolab.crop.clouds",
    "clear_fraction": "eolab.crop.clouds",
    "dilate_mask": "eolab.crop.clouds",
    "monthly": "eolab.crop.composites",
    "write_composites": "eolab.crop.composites",
    "read_timesen2crop": "eolab.crop.dataset",
    "TimeSen2CropDataset": "eolab.crop.dataset",
    "CLASS_NAMES": "eolab.crop.dataset",
    "CropClassifier": "eolab.crop.model",
    "load": "eolab.crop.model",
    "fit": "eolab.crop.train",
    "classify_cube": "eolab.crop.predict",
    "parcel_majority": "eolab.crop.postprocess",
    "modal_filter": "eolab.crop.postprocess",
    "write_crop_map": "eolab.crop.postprocess",
    "rasterize_parcels": "eolab.crop.postprocess",
}
_SUBMODULES = ("timeseries", "clouds", "composites", "dataset", "model", "train", "metrics",
               "predict", "postprocess", "cli")


__getattr__ = lazy_getattr("eolab.crop", _LAZY, _SUBMODULES)


__all__ = [*_LAZY, *_SUBMODULES]
