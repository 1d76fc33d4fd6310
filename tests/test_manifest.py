"""data_manifest.yaml schema and helpers.data.manifest.fetch against a local HTTP server (no internet)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import re
import threading
from pathlib import Path

import pytest
import yaml

from helpers.data import manifest


def test_manifest_schema_is_valid():
    assert manifest.validate() == []
    ids = [e["id"] for e in manifest.entries()]
    for needed in ("sample", "sen12ms", "dfc2020", "deeplightmd", "panda"):
        assert needed in ids
    assert all(e["obtain"] in manifest.OBTAIN for e in manifest.entries())


def test_no_hash_invented():
    """Every recorded hash has a source note, and is a well-formed hex digest."""
    for entry in manifest.entries():
        hashes = [entry.get("sha256"), entry.get("md5")]
        hashes += [h for f in entry.get("files") or [] for h in (f.get("sha256"), f.get("md5"))]
        hashes = [h for h in hashes if h]
        if hashes:
            assert "torchgeo" in entry["hash_source"] or "http" in entry["hash_source"], entry["id"]
        for h in hashes:
            assert re.fullmatch(r"[0-9a-f]{32}|[0-9a-f]{64}", h), (entry["id"], h)
    assert manifest.get("deeplightmd")["obtain"] == "not released"
    assert manifest.get("panda")["url"] is None


def test_earth_engine_entries_say_whether_verified():
    ee = [e for e in manifest.entries() if e["obtain"] == "earthengine"]
    assert {e["ee_id"] for e in ee} >= {"COPERNICUS/S2_SR_HARMONIZED", "MODIS/061/MCD12Q1"}
    assert all(e.get("verified") for e in ee)


def test_validate_flags_a_hash_without_source(tmp_path):
    bad = {
        "sources": [
            {
                "id": "x",
                "description": "",
                "license": "",
                "citation": "",
                "layout": "",
                "url": None,
                "size": None,
                "sha256": "0" * 64,
                "obtain": "download",
            }
        ]
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert any("hash_source" in p for p in manifest.validate(path))


# ---- fetch against a local server ----


@pytest.fixture
def server(tmp_path):
    """A tiny HTTP server on 127.0.0.1 serving tmp_path/www (stopped after the test)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(www))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _use_manifest(monkeypatch, tmp_path, sources):
    path = tmp_path / "data_manifest.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "sources": sources}))
    monkeypatch.setattr(manifest, "manifest_path", lambda: path)
    monkeypatch.setenv("EOSR_DATA", str(tmp_path / "data"))
    monkeypatch.delenv("EOSR_OFFLINE", raising=False)
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    return path


def _entry(ident, url, sha256=None, md5=None):
    return {
        "id": ident,
        "description": "test",
        "license": "test",
        "citation": "test",
        "layout": "test",
        "url": url,
        "size": None,
        "sha256": None,
        "obtain": "download",
        "hash_source": "test server",
        "files": [{"name": "blob.bin", "url": url, "sha256": sha256, "md5": md5}],
    }


def test_fetch_right_hash(server, monkeypatch, tmp_path):
    www, base = server
    payload = b"eo-sr kit test payload\n" * 10
    (www / "blob.bin").write_bytes(payload)
    good = hashlib.sha256(payload).hexdigest()
    md5 = hashlib.md5(payload).hexdigest()
    _use_manifest(
        monkeypatch,
        tmp_path,
        [
            _entry("good", f"{base}/blob.bin", sha256=good),
            _entry("good_md5", f"{base}/blob.bin", md5=md5),
        ],
    )
    folder = manifest.fetch("good")
    assert folder == tmp_path / "data" / "good"
    assert (folder / "blob.bin").read_bytes() == payload
    assert manifest.fetch("good") == folder  # already there: kept
    assert (manifest.fetch("good_md5") / "blob.bin").exists()


def test_fetch_wrong_hash(server, monkeypatch, tmp_path):
    www, base = server
    (www / "blob.bin").write_bytes(b"something else")
    _use_manifest(monkeypatch, tmp_path, [_entry("bad", f"{base}/blob.bin", sha256="0" * 64)])
    with pytest.raises(manifest.ChecksumError, match="hash differs"):
        manifest.fetch("bad")
    assert not (tmp_path / "data" / "bad" / "blob.bin").exists()


def test_hand_placed_file_with_wrong_hash(monkeypatch, tmp_path):
    _use_manifest(monkeypatch, tmp_path, [_entry("placed", None, md5="0" * 32)])
    target = tmp_path / "data" / "placed" / "blob.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"x")
    with pytest.raises(manifest.ChecksumError, match=r"blob\.bin: hash differs"):
        manifest.fetch("placed")


def test_offline_message(monkeypatch, tmp_path):
    _use_manifest(
        monkeypatch, tmp_path, [_entry("far", "http://127.0.0.1:9/blob.bin", sha256="0" * 64)]
    )
    with pytest.raises(manifest.ManualDownloadRequired) as err:  # port 9 (discard): refused at once
        manifest.fetch("far")
    text = str(err.value)
    assert "failed" in text and "blob.bin" in text and str(Path(tmp_path / "data" / "far")) in text
    monkeypatch.setenv("EOSR_OFFLINE", "1")
    with pytest.raises(manifest.ManualDownloadRequired, match="offline"):
        manifest.fetch("far")


def test_manual_sources_say_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("EOSR_DATA", str(tmp_path / "data"))
    with pytest.raises(
        manifest.ManualDownloadRequired, match=r"ROIs1158_spring_lc\.tar\.gz.*sen12ms"
    ):
        manifest.fetch("sen12ms")  # tarballs have md5s but no direct URL in the manifest
    with pytest.raises(manifest.ManualDownloadRequired, match="not public"):
        manifest.fetch("deeplightmd")
    with pytest.raises(manifest.ManualDownloadRequired, match="eosr sample"):
        manifest.fetch("sample")
    with pytest.raises(manifest.ManualDownloadRequired, match="notebook 01"):
        manifest.fetch("ee_dmsp_ols")
    with pytest.raises(KeyError, match="known"):
        manifest.get("nope")


def test_cli_lists_sources(capsys):
    from helpers.apps import cli

    assert cli.main(["fetch", "--list"]) == 0
    out = capsys.readouterr().out
    assert "sen12ms" in out and "not released" in out
