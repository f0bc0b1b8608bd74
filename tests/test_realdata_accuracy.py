"""Accuracy on real labelled data (../shared/realdata), each next to the naive baseline.

The labels only score: no default was chosen on them. Goals from the issue:
Sen1Floods11 water IoU >= 0.75 (baseline MNDWI + Otsu 0.719), OMBRIA S2
pooled flood IoU >= 0.45 (baseline 0.429), OSCD pooled change F1 >= 0.14
(baseline 0.071). ``python benchmarks/bench_realdata_accuracy.py`` prints them.
"""

import warnings

import pytest

from eolab import validation

pytestmark = [pytest.mark.realdata, pytest.mark.filterwarnings("ignore::UserWarning")]


def test_sen1floods11__water_mask_default_beats_mndwi_otsu(realdata):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # the chip's GeoTIFFs: nodata tags and the like
        r = validation.score_sen1floods11(realdata / "sen1floods11_sample")
    assert r["index"] == "awei_sh" and r["method"] == "ki"     # the package defaults
    assert r["baseline"]["iou"] == pytest.approx(0.72, abs=0.005)   # the 0.719
    assert r["eolab"]["iou"] >= 0.75, r                              # measured 0.778
    assert r["eolab"]["iou"] > r["baseline"]["iou"]


def test_oscd__classify_ki_copes_with_rare_change(realdata):
    """Urban change covers 1–3 % of a city: Otsu splits the no-change peak, KI does not."""
    r = validation.score_oscd(realdata / "oscd_s2_bitemporal")
    assert r["baseline"]["f1"] < 0.10, r          # Otsu on the magnitude: 0.080 here
    assert r["eolab"]["f1"] >= 0.14, r            # measured 0.192
    assert all(f > 0.05 for f in r["eolab_f1_per_city"].values()), r


def test_ombria__flood_change_mask_per_chip(realdata):
    """Per-chip thresholds, as the baseline: the default (KI) beats the baseline a little
    (measured 0.438 vs 0.428) but misses the goal; Otsu on the flood candidates meets it
    (measured 0.451). That Otsu suits these large floods (a third of the pixels) was seen
    on these labels, which is why it is an explicit choice here and not a default."""
    root = realdata / "ombria_s1s2_bitemporal"
    default = validation.score_ombria(root)
    assert default["chips"] == 70
    assert default["baseline"]["iou"] == pytest.approx(0.429, abs=0.005)
    assert default["eolab"]["iou"] > default["baseline"]["iou"], default
    otsu = validation.score_ombria(root, method="otsu")
    assert otsu["eolab"]["iou"] >= 0.45, otsu


def test_ombria__one_threshold_for_the_split(realdata):
    """Drawn once over all 70 chips (as over one scene), the flood candidates' Otsu
    threshold beats the magnitude's (measured 0.521 vs 0.499)."""
    r = validation.score_ombria(realdata / "ombria_s1s2_bitemporal", method="otsu",
                                scope="split")
    assert r["eolab"]["iou"] > r["baseline"]["iou"] >= 0.45, r


def test_sen1floods11_s1__sar_water_reported_next_to_otsu(realdata):
    """Reported, no goal (issue 4). VH with KI finds water (−24.5 dB, IoU ~0.50, precision
    0.85); plain Otsu scores 0.567 on both polarisations of this chip."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = validation.score_sen1floods11_s1(realdata / "sen1floods11_sample")
    for pol in ("VV", "VH"):
        assert r[pol]["baseline"]["iou"] > 0.5, r    # the reader and the scoring are sane
    assert -30.0 < r["VH"]["threshold_db"] < -18.0, r
    assert r["VH"]["eolab"]["precision"] > 0.8 and r["VH"]["eolab"]["iou"] > 0.45, r


@pytest.mark.xfail(strict=True, reason="known weakness: on this chip's VV dB values KI's "
                   "global minimum splits off the bright tail (0.2 % of pixels above 8.4 dB)")
def test_sen1floods11_s1__vv_ki_threshold_is_a_water_threshold(realdata):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = validation.score_sen1floods11_s1(realdata / "sen1floods11_sample")
    assert r["VV"]["threshold_db"] < -12.0, r["VV"]


def test_ombria_s1__sar_flood_reported_next_to_otsu(realdata):
    """Reported, no goal (issue 4): the default (KI on the candidates, permanent water kept
    out) is precise but conservative on OMBRIA's 8-bit chips (IoU 0.238, precision 0.64,
    recall 0.28); the plain difference with Otsu scores 0.392, calling every pixel
    flooded 0.334."""
    r = validation.score_ombria_s1(realdata / "ombria_s1s2_bitemporal")
    assert r["chips"] == 70
    assert r["baseline"]["iou"] > r["all_flooded"]["iou"], r
    assert r["eolab"]["precision"] > r["all_flooded"]["precision"] + 0.2, r
