import importlib
import subprocess
import sys

import pytest

import eolab
from eolab import errors
from eolab.cli import main


def test_public_api_resolves():
    for name in eolab.__all__:
        assert getattr(eolab, name) is not None, name


def test_exception_hierarchy():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.EolabError)
    assert issubclass(errors.CorruptProductError, errors.ProductError)
    assert issubclass(errors.ChecksumError, errors.FetchError)


def test_py_typed_ships():
    spec = importlib.util.find_spec("eolab")
    assert (spec.submodule_search_locations and
            any((__import__("pathlib").Path(p) / "py.typed").exists()
                for p in spec.submodule_search_locations))


def test_cli_version():
    out = subprocess.run([sys.executable, "-m", "eolab.cli", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == f"eolab {eolab.__version__}"


def test_cli_error_is_one_line_and_nonzero(capsys, tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 truncated")
    assert main(["info", str(bad)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("eolab: error:") and "zip" in err[0]


def test_cli_tutorial_accepts_both_outdir_spellings():
    from eolab.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["tutorial", "-outdir", "a"]).outdir == "a"
    assert parser.parse_args(["tutorial", "--outdir", "b"]).outdir == "b"
    assert parser.parse_args(["fetch", "-outdir", "c", "X"]).outdir == "c"
    assert parser.parse_args(["samples", "build", "-outdir", "d"]).dest == "d"
    assert parser.parse_args(["samples", "build", "--outdir", "e"]).dest == "e"
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["tutorial"])
    assert info.value.code == 2
