"""Accuracy of eolab's masks on the real labelled datasets, next to the naive baselines.

Reads ``../shared/realdata`` (or ``$EOLAB_REALDATA``) and prints one JSON line per
dataset and setting: eolab's score, the baseline's, and the issue's goal. Goals:
Sen1Floods11 S2 water IoU >= 0.75, OMBRIA S2 pooled flood IoU >= 0.45, OSCD pooled
change F1 >= 0.14. Skips when the data are absent.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path

GOALS = {"sen1floods11": ("iou", 0.75), "ombria_s2_test": ("iou", 0.45), "oscd": ("f1", 0.14)}


def realdata_root() -> Path | None:
    env = os.environ.get("EOLAB_REALDATA")
    here = Path(__file__).resolve().parents[1]
    for path in ([Path(env)] if env else []) + [here.parent / "shared" / "realdata"]:
        if path.is_dir():
            return path
    return None


def line(result: dict, **extra: object) -> str:
    metric, goal = GOALS[result["dataset"]]
    out = {"dataset": result["dataset"], **extra, "metric": metric,
           "eolab": round(result["eolab"][metric], 3),
           "baseline": round(result["baseline"][metric], 3),
           "baseline_is": result["baseline_name"], "goal": goal,
           "goal_met": bool(result["eolab"][metric] >= goal)}
    return json.dumps(out)


def main() -> None:
    root = realdata_root()
    if root is None:
        print("SKIP bench_realdata_accuracy: ../shared/realdata not found (set EOLAB_REALDATA)")
        return
    from eolab import validation

    warnings.simplefilter("ignore")
    start = time.perf_counter()
    print(line(validation.score_sen1floods11(root / "sen1floods11_sample"),
               setting="water_mask default (AWEI_sh, KI)"))
    print(line(validation.score_oscd(root / "oscd_s2_bitemporal"),
               setting="classify(method=\"ki\"), the S2-CD default; bands B03/B04/B08"))
    for method in ("ki", "otsu"):
        for scope in ("chip", "split"):
            r = validation.score_ombria(root / "ombria_s1s2_bitemporal", method=method,
                                        scope=scope)
            print(line(r, setting=f"flood_change_mask {method}, threshold per {scope}"))
    # Sentinel-1 (issue 4): reported next to the plain-Otsu baseline; no goal was set
    for method in ("ki", "otsu"):
        r = validation.score_sen1floods11_s1(root / "sen1floods11_sample", method=method)
        for pol in ("VV", "VH"):
            print(json.dumps({"dataset": "sen1floods11_s1", "setting": f"sar_water {method}",
                              "pol": pol, "metric": "iou",
                              "threshold_db": round(r[pol]["threshold_db"], 2),
                              "eolab": round(r[pol]["eolab"]["iou"], 3),
                              "baseline": round(r[pol]["baseline"]["iou"], 3),
                              "baseline_is": r["baseline_name"]}))
        r = validation.score_ombria_s1(root / "ombria_s1s2_bitemporal", method=method)
        print(json.dumps({"dataset": "ombria_s1_test", "setting": f"sar_flood {method}",
                          "metric": "iou", "eolab": round(r["eolab"]["iou"], 3),
                          "eolab_precision": round(r["eolab"]["precision"], 3),
                          "eolab_recall": round(r["eolab"]["recall"], 3),
                          "chips_without_threshold": r["chips_without_threshold"],
                          "baseline": round(r["baseline"]["iou"], 3),
                          "all_flooded": round(r["all_flooded"]["iou"], 3),
                          "baseline_is": r["baseline_name"]}))
    print(json.dumps({"seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
