import numpy as np
import pytest
import rasterio

from eolab.cli import main
from eolab.errors import SampleDataError
from eolab.tutorial import STEPS, flood_products, run_tutorial


@pytest.mark.slow
def test_cli_tutorial__runs_available_steps_and_lists_files(samples_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EOLAB_DATA_DIR", str(samples_dir))
    assert main(["tutorial", "-outdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for step in STEPS:
        assert step.name in out
        assert ("[run]" if step.run else "[not available yet]") in out.split(step.name)[0].splitlines()[-1]
    wrote = [line.split("wrote ", 1)[1] for line in out.splitlines() if "wrote " in line]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.split("/")[-1] for p in wrote)
    with rasterio.open(tmp_path / "S2_L2A_20210325_B3B4B8_20.tif") as src:
        assert src.count == 3 and src.dtypes[0] == "float32" and src.crs.to_epsg() == 32756
        assert src.descriptions == ("B03 surface reflectance", "B04 surface reflectance",
                                    "B08 surface reflectance")
        assert src.res == (20.0, 20.0) and np.isnan(src.nodata)
        assert src.tags()["datetime"].startswith("2021-03-25")
    html = (tmp_path / "tutorial_map.html").read_text()
    assert "<script src=\"http" not in html and "flood (simulated truth)" in html


def test_tutorial__missing_samples_is_a_clear_error(tmp_path):
    (tmp_path / "README.md").write_text("not samples")
    with pytest.raises(SampleDataError, match="eolab samples build"):
        flood_products(tmp_path)


def test_run_tutorial__failing_step_leaves_nothing(tmp_path, monkeypatch):
    def boom(samples, outdir):
        from eolab.io.rasters import atomic_outputs

        with atomic_outputs(outdir) as out:
            out.path("partial.tif").write_bytes(b"half")
            raise RuntimeError("step failed")

    from eolab import tutorial

    monkeypatch.setattr(tutorial, "STEPS", [tutorial.Step("boom", "fails", boom)])
    monkeypatch.setattr("eolab.samples.ensure_samples", lambda samples=None, **k: tmp_path)
    outdir = tmp_path / "out"
    with pytest.raises(RuntimeError):
        run_tutorial(outdir, echo=lambda line: None)
    assert not outdir.exists() or not [p for p in outdir.iterdir()]
