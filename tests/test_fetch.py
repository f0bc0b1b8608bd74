"""Tests of eolab.io.fetch against a local stand-in of the CDSE services (no internet)."""

from __future__ import annotations

import hashlib
import random
import socket
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cdse_standin import TOKEN_PATH, CDSEStandin, Product

from eolab.errors import AuthenticationError, ChecksumError, FetchError
from eolab.io import _cdse_download, _cdse_http
from eolab.io.fetch import (
    TUTORIAL_PRODUCTS,
    ProductInfo,
    TokenManager,
    fetch,
    find_product,
    product_stem,
    resolve_credentials,
)

USER, PASSWORD = "alice@example.org", "correct horse"
GOOD = TUTORIAL_PRODUCTS[0]
BAD = TUTORIAL_PRODUCTS[1]
S1 = TUTORIAL_PRODUCTS[2]
BLAKE3_ONLY = "S1A_IW_GRDH_1SDV_20210312T191530_20210312T191555_036969_045983_1A2B"
OFFLINE = "S2B_MSIL1C_20180101T101421_N0206_R022_T32TQM_20180101T122128"
UNKNOWN = "S2A_MSIL2A_20210405T000241_N0214_R030_T56HKH_20210405T020346"
FAST = {"progress": False, "backoff": 0.0, "timeout": 5.0, "chunk_size": 16384}


def _payload(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture(scope="module")
def server() -> Iterator[CDSEStandin]:
    standin = CDSEStandin({USER: PASSWORD}).start()
    standin.add(Product(GOOD, _payload(1, 300_000)))
    payload = _payload(2, 200_000)
    standin.add(Product(S1, payload, checksums=[
        {"Value": hashlib.md5(payload).hexdigest().upper(), "Algorithm": "MD5",
         "ChecksumDate": "2024-05-01T10:00:00Z"}]))
    standin.add(Product(BAD, _payload(3, 120_000), checksums=[
        {"Value": hashlib.md5(b"something else").hexdigest(), "Algorithm": "MD5",
         "ChecksumDate": "2024-05-01T10:00:00Z"}]))
    standin.add(Product(BLAKE3_ONLY, _payload(4, 50_000), checksums=[
        {"Value": "ab" * 32, "Algorithm": "BLAKE3", "ChecksumDate": "2024-05-01T10:00:00Z"}]))
    standin.add(Product(OFFLINE, _payload(5, 1000), online=False))
    yield standin
    standin.stop()


@pytest.fixture
def cdse(server: CDSEStandin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CDSEStandin:
    """The stand-in, reset, wired in through the environment, with credentials in env."""
    server.reset()
    monkeypatch.setenv("EOLAB_CDSE_CATALOGUE_URL", server.catalogue_url)
    monkeypatch.setenv("EOLAB_CDSE_DOWNLOAD_URL", server.download_url)
    monkeypatch.setenv("EOLAB_CDSE_TOKEN_URL", server.token_url)
    monkeypatch.setenv("CDSE_USERNAME", USER)
    monkeypatch.setenv("CDSE_PASSWORD", PASSWORD)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # never read the real ~/.netrc
    monkeypatch.setenv("NETRC", str(tmp_path / "home" / "absent-netrc"))
    return server


def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CDSE_USERNAME", raising=False)
    monkeypatch.delenv("CDSE_PASSWORD", raising=False)


def _zipper(cdse: CDSEStandin) -> list:
    return cdse.requests("zipper", "/$value")


# ------------------------------------------------------------------------ names


@pytest.mark.parametrize("suffix", ["", ".SAFE", ".zip", ".SAFE.zip", " "])
def test_product_stem__accepts_suffixes(suffix: str) -> None:
    for name in TUTORIAL_PRODUCTS:
        assert product_stem(name + suffix) == name


@pytest.mark.parametrize("name", [
    "S2A_MSIL2A_20210315", "../S2A_MSIL2A_20210315T000241_N0214_R030_T56HKH_20210315T020346",
    "S3A_OL_1_EFR____20210315T000241", "S1A_IW_SLC__1SDV_20210312T191528", "",
    "S2A_MSIL2A_20210315T000241_N0214_R030_T56HKH_20210315T020346' or Name ne '",
])
def test_product_stem__rejects_invalid(name: str) -> None:
    with pytest.raises(FetchError, match="not a Sentinel-1 or Sentinel-2 product name"):
        product_stem(name)


# -------------------------------------------------------------------- catalogue


def test_find_product__reads_odata_fields(cdse: CDSEStandin) -> None:
    info = find_product(S1 + ".zip")
    payload = cdse.products[S1].payload
    assert isinstance(info, ProductInfo)
    assert info.id == cdse.products[S1].id
    assert info.name == S1 + ".SAFE" and info.filename == S1 + ".zip"
    assert info.size == len(payload)
    assert info.checksums == {"MD5": hashlib.md5(payload).hexdigest()}
    assert info.online is True
    assert info.content_start is not None and info.content_start.year == 2021
    (search,) = cdse.requests("catalogue", "/Products")
    assert "$filter=Name eq '" + S1 + ".SAFE'" in search.path


def test_fetch__unknown_product(cdse: CDSEStandin, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="no product named " + UNKNOWN) as info:
        fetch(UNKNOWN, outdir=tmp_path, **FAST)
    assert not isinstance(info.value, AuthenticationError)
    assert cdse.grants() == []


def test_find_product__unreachable_catalogue(cdse: CDSEStandin) -> None:
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match=r"cannot reach 127\.0\.0\.1"):
        find_product(GOOD, catalogue_url=f"http://127.0.0.1:{port}/odata/v1", retries=1,
                     backoff=0.0, timeout=2.0)


def test_fetch__invalid_name_fails_before_any_request(cdse: CDSEStandin, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="S2A_bogus"):
        fetch([GOOD, "S2A_bogus"], outdir=tmp_path, **FAST)
    assert cdse.log == []
    assert list(tmp_path.iterdir()) == []


def test_fetch__offline_product(cdse: CDSEStandin, tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="offline"):
        fetch(OFFLINE, outdir=tmp_path, **FAST)
    assert _zipper(cdse) == []


# --------------------------------------------------------------------- download


def test_fetch__downloads_and_verifies(cdse: CDSEStandin, tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir"
    paths = fetch([GOOD + ".SAFE"], outdir=out, **{**FAST, "progress": True})
    assert paths == [out / f"{GOOD}.zip"]
    assert paths[0].read_bytes() == cdse.products[GOOD].payload
    assert sorted(p.name for p in out.iterdir()) == [f"{GOOD}.zip"]  # no .part left
    assert cdse.grants() == ["password"]
    # the catalogue host redirects $value to the zipper (another port): the
    # bearer token must survive the redirect, which requests alone would drop
    (hop,) = cdse.requests("catalogue", "/$value")
    assert hop.status == 301
    (download,) = _zipper(cdse)
    assert download.status == 200 and download.headers["Authorization"].startswith("Bearer ")
    assert "Range" not in download.headers


def test_fetch__resume_after_interrupted_transfer(cdse: CDSEStandin, tmp_path: Path) -> None:
    payload = cdse.products[GOOD].payload
    cdse.drop_after = 50_000
    with pytest.raises(FetchError, match="run again to resume"):
        fetch(GOOD, outdir=tmp_path, **{**FAST, "retries": 0})
    part = tmp_path / f"{GOOD}.zip.part"
    kept = part.stat().st_size
    assert 0 < kept <= 50_000
    assert part.read_bytes() == payload[:kept]
    assert not (tmp_path / f"{GOOD}.zip").exists()

    (path,) = fetch(GOOD, outdir=tmp_path, **FAST)
    first, second = _zipper(cdse)
    assert "Range" not in first.headers
    assert second.headers["Range"] == f"bytes={kept}-" and second.status == 206
    assert cdse.served[-1] == (206, len(payload) - kept)
    assert path.read_bytes() == payload
    assert not part.exists()


def test_fetch__drop_and_expired_token_in_one_run(cdse: CDSEStandin, tmp_path: Path) -> None:
    """A drop mid-stream, then 401 (token revoked): refresh the token and resume."""
    cdse.drop_after = 100_000
    cdse.token_uses = 1
    (path,) = fetch(GOOD, outdir=tmp_path, **{**FAST, "retries": 2})
    assert path.read_bytes() == cdse.products[GOOD].payload
    assert [r.status for r in _zipper(cdse)] == [200, 401, 206]
    assert cdse.grants() == ["password", "refresh_token"]
    start = int(_zipper(cdse)[-1].headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < start <= cdse.served[0][1] == 100_000
    assert cdse.served[-1] == (206, len(cdse.products[GOOD].payload) - start)


def test_fetch__server_ignoring_range_restarts(cdse: CDSEStandin, tmp_path: Path) -> None:
    payload = cdse.products[GOOD].payload
    (tmp_path / f"{GOOD}.zip.part").write_bytes(payload[:1000])
    cdse.ignore_range = True
    (path,) = fetch(GOOD, outdir=tmp_path, **FAST)
    (download,) = _zipper(cdse)
    assert download.headers["Range"] == "bytes=1000-" and download.status == 200
    assert path.read_bytes() == payload


def test_fetch__complete_part_is_verified_and_renamed(cdse: CDSEStandin, tmp_path: Path) -> None:
    payload = cdse.products[S1].payload
    (tmp_path / f"{S1}.zip.part").write_bytes(payload)
    (path,) = fetch(S1, outdir=tmp_path, **FAST)
    assert _zipper(cdse) == []
    assert path.read_bytes() == payload and not (tmp_path / f"{S1}.zip.part").exists()


@pytest.mark.parametrize(("header", "expected"), [
    ("bytes 100-199/200", (100, 200)), ("bytes 0-9/*", (0, None)),
    ("bytes */200", (None, 200)), ("", (None, None)),
])
def test_content_range_parsing(header: str, expected: tuple) -> None:
    response = requests.Response()
    response.headers["Content-Range"] = header
    assert _cdse_download._content_range_start(response) == expected


def test_fetch__retries_transient_errors(cdse: CDSEStandin, tmp_path: Path) -> None:
    cdse.fail_next = 2
    (path,) = fetch(S1, outdir=tmp_path, **FAST)
    assert [r.status for r in _zipper(cdse)] == [503, 503, 200]
    assert path.read_bytes() == cdse.products[S1].payload


def test_fetch__gives_up_when_transient_errors_persist(cdse: CDSEStandin, tmp_path: Path) -> None:
    cdse.fail_next = 10
    with pytest.raises(FetchError, match="failed 3 times in a row"):
        fetch(S1, outdir=tmp_path, **{**FAST, "retries": 2})
    assert len(_zipper(cdse)) == 3


def test_fetch__skips_complete_file_without_login(
    cdse: CDSEStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (first,) = fetch(GOOD, outdir=tmp_path, **FAST)
    mtime = first.stat().st_mtime_ns
    cdse.reset()
    _no_credentials(monkeypatch)  # a finished download needs no login
    assert fetch([GOOD, GOOD + ".zip"], outdir=tmp_path, **FAST) == [first, first]
    assert _zipper(cdse) == [] and cdse.grants() == []
    assert first.stat().st_mtime_ns == mtime


def test_fetch__corrupt_existing_file_is_replaced(cdse: CDSEStandin, tmp_path: Path) -> None:
    payload = cdse.products[GOOD].payload
    target = tmp_path / f"{GOOD}.zip"
    target.write_bytes(bytes(len(payload)))
    with pytest.warns(UserWarning, match="downloading it again"):
        fetch(GOOD, outdir=tmp_path, **FAST)
    assert target.read_bytes() == payload


def test_fetch__bad_checksum_leaves_no_file(cdse: CDSEStandin, tmp_path: Path) -> None:
    with pytest.raises(ChecksumError, match="MD5 checksum"):
        fetch(BAD, outdir=tmp_path, **FAST)
    assert list(tmp_path.iterdir()) == []


def test_fetch__blake3_only_without_blake3_checks_size(
    cdse: CDSEStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cdse_download, "_blake3_factory", lambda: None)
    with pytest.warns(UserWarning, match="not verified.*BLAKE3.*pip install blake3"):
        (path,) = fetch(BLAKE3_ONLY, outdir=tmp_path, **FAST)
    assert path.read_bytes() == cdse.products[BLAKE3_ONLY].payload


def test_fetch__md5_and_blake3_published(
    cdse: CDSEStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cdse_download, "_blake3_factory", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MD5 verifies: no "not verified" warning
        (path,) = fetch(GOOD, outdir=tmp_path, **FAST)
    assert path.is_file()


# ----------------------------------------------------------------------- login


def test_fetch__wrong_password(
    cdse: CDSEStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "not-my-password-123"
    monkeypatch.setenv("CDSE_PASSWORD", secret)
    with pytest.raises(AuthenticationError, match="refused the login") as info:
        fetch(GOOD, outdir=tmp_path, **FAST)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert _zipper(cdse) == []
    assert list(tmp_path.iterdir()) == []


def test_fetch__no_credentials_names_env_vars(
    cdse: CDSEStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_credentials(monkeypatch)
    with pytest.raises(AuthenticationError, match="CDSE_USERNAME and CDSE_PASSWORD"):
        fetch(GOOD, outdir=tmp_path, **FAST)
    assert cdse.grants() == []


def test_fetch__credentials_from_arguments_win(
    cdse: CDSEStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDSE_PASSWORD", "wrong")
    (path,) = fetch(S1, outdir=tmp_path, username=USER, password=PASSWORD, **FAST)
    assert path.is_file()


def test_resolve_credentials__netrc(
    cdse: CDSEStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_credentials(monkeypatch)
    rc = tmp_path / "netrc"
    rc.write_text(
        f'machine identity.dataspace.copernicus.eu login {USER} password "{PASSWORD}"\n'
    )
    rc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(rc))
    assert resolve_credentials() == (USER, PASSWORD)
    (path,) = fetch(S1, outdir=tmp_path / "out", **FAST)
    assert path.read_bytes() == cdse.products[S1].payload


def test_resolve_credentials__bad_netrc_does_not_leak_password(
    cdse: CDSEStandin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_credentials(monkeypatch)
    rc = tmp_path / "netrc"
    rc.write_text("machine identity.dataspace.copernicus.eu login a password 'open sesame'\n")
    rc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(rc))
    with pytest.raises(AuthenticationError, match="cannot parse") as info:
        resolve_credentials()
    assert "sesame" not in str(info.value)


def test_fetch__download_refused_even_with_fresh_token(cdse: CDSEStandin, tmp_path: Path) -> None:
    cdse.token_uses = 0  # the zipper refuses every token
    with pytest.raises(AuthenticationError, match="even with a fresh token"):
        fetch(S1, outdir=tmp_path, **FAST)
    assert [r.status for r in _zipper(cdse)] == [401, 401, 401]


def test_token_manager__refreshes_expired_token(cdse: CDSEStandin) -> None:
    cdse.expires_in = 0  # announced as already expired
    tokens = TokenManager(USER, PASSWORD, token_url=cdse.token_url, backoff=0.0)
    first, second = tokens.access_token(), tokens.access_token()
    assert first != second
    assert cdse.grants() == ["password", "refresh_token"]
    assert PASSWORD not in repr(tokens)
    (post,) = cdse.requests(path_part=TOKEN_PATH)[:1]
    assert post.form["client_id"] == "cdse-public"


def test_token_manager__falls_back_to_password_when_refresh_refused(cdse: CDSEStandin) -> None:
    cdse.expires_in = 0
    tokens = TokenManager(USER, PASSWORD, token_url=cdse.token_url, backoff=0.0)
    tokens.access_token()
    cdse.refresh.clear()  # refresh tokens revoked server-side
    tokens.access_token()
    assert cdse.grants() == ["password", "refresh_token", "password"]


def test_bearer_only_for_trusted_hosts() -> None:
    trusted = _cdse_http._trusted_hosts("http://127.0.0.1:8000/odata/v1")
    assert _cdse_http._sends_token("http://127.0.0.1:9000/x", trusted)
    assert _cdse_http._sends_token("https://zipper.dataspace.copernicus.eu/odata/v1/x", trusted)
    assert _cdse_http._sends_token("https://download.dataspace.copernicus.eu/x", trusted)
    assert not _cdse_http._sends_token("https://s3.example.com/bucket/x?X-Amz-Signature=1", trusted)
    assert not _cdse_http._sends_token("https://evil-dataspace.copernicus.eu.example/x", trusted)


def test_bearer_does_not_fall_back_to_netrc_basic_auth() -> None:
    request = requests.Request("GET", "https://s3.example.com/x").prepare()
    assert "Authorization" not in _cdse_http._Bearer(None)(request).headers
