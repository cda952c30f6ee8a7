"""Weights: manifest schema, resolution, sha256, strict loading, and the real download path.

The download tests run ``huggingface_hub.hf_hub_download`` unmodified against a Hub-compatible
server on 127.0.0.1 (tests/fake_hub.py), selected with HF_ENDPOINT, into an isolated cache.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fake_hub import FakeHub, install_bundled_only, manifest_entry, write_manifest
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import pomai
from pomai import hub, manifest
from pomai.errors import (
    CheckpointMismatchError,
    ChecksumMismatchError,
    ManifestError,
    UnknownModelError,
    WeightsUnavailableError,
)

REPO = "pomai-test/tiny"
NAME = "pomai-test-tiny"


# -- the shipped manifest and its schema -------------------------------------------------------


def test_shipped_manifest_is_valid() -> None:
    shipped = manifest.read_manifest()
    assert pomai.list_models() == [e.name for e in shipped.entries]
    assert manifest.default_model() == shipped.default
    for entry in shipped.entries:  # released means trained by the project, with its record
        assert entry.training["steps"] > 0 and entry.training["wall_time_s"] > 0
        assert entry.bundled_path.is_file()
        assert {"msrs", "tno"} <= set(entry.metrics["means"])


def test_no_default_model_says_what_to_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifest, "MANIFEST_PATH", write_manifest(tmp_path / "manifest.json", []))
    with pytest.raises(UnknownModelError, match="no released weights yet.*model.safetensors"):
        manifest.default_model()


def test_schema_accepts_a_complete_entry(trained_weights: Path, tmp_path: Path) -> None:
    path = write_manifest(tmp_path / "m.json", [manifest_entry(NAME, trained_weights, REPO, "main",
                                                               bundled="x.safetensors")], NAME)
    m = manifest.read_manifest(path)
    assert m.default == NAME and m.names() == [NAME]
    assert m.find(f"{NAME}-ALIAS").name == NAME  # aliases, case-insensitive


def test_schema_accepts_bundled_only_entries(trained_weights: Path, tmp_path: Path) -> None:
    absent = manifest_entry(NAME, trained_weights, None, bundled="a.safetensors")
    null = manifest_entry("other", trained_weights, None, bundled="b.safetensors", hub=None)
    assert "hub" not in absent and null["hub"] is None
    m = manifest.read_manifest(write_manifest(tmp_path / "m.json", [absent, null]))
    assert [(e.bundled, e.hub) for e in m.entries] == [
        ("a.safetensors", None), ("b.safetensors", None)]


@pytest.mark.parametrize("hub_field", ["absent", "null"])
def test_schema_needs_hub_or_bundled(
    trained_weights: Path, tmp_path: Path, hub_field: str
) -> None:
    entry = manifest_entry(NAME, trained_weights, None if hub_field == "absent" else REPO)
    if hub_field == "null":
        entry["hub"] = None
    with pytest.raises(ManifestError, match=f"model {NAME}: needs 'hub' .* or 'bundled'"):
        manifest.read_manifest(write_manifest(tmp_path / "m.json", [entry]))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"sha256": "abc"}, "sha256 must be 64"),
        ({"config": {"width": 7, "heads": 2}}, "config: invalid PoMAIConfig"),
        ({"hub": {"repo_id": REPO, "filename": "w.bin", "revision": "main"}}, ".safetensors"),
        ({"hub": {"repo_id": REPO, "filename": "w.safetensors"}}, "hub lacks \\['revision'\\]"),
        ({"hub": None, "bundled": "../x.safetensors"}, "bundled must be"),
        ({"inference_stage": 3}, "inference_stage must be 1 or 2"),
        ({"training": {"data": "x"}}, "training lacks \\['budget'\\]"),
        ({"bundled": "../evil.safetensors"}, "bundled must be"),
        ({"extra": 1}, "unknown fields"),
    ],
)
def test_schema_rejects_broken_entries(
    trained_weights: Path, tmp_path: Path, change: dict, problem: str
) -> None:
    path = write_manifest(tmp_path / "m.json",
                          [manifest_entry(NAME, trained_weights, REPO, "main", **change)])
    with pytest.raises(ManifestError, match=problem):
        manifest.read_manifest(path)


def test_schema_rejects_missing_fields_duplicates_and_a_bad_default(
    trained_weights: Path, tmp_path: Path
) -> None:
    entry = manifest_entry(NAME, trained_weights, REPO, "main")
    del entry["licence"]
    with pytest.raises(ManifestError, match="missing field 'licence'"):
        manifest.read_manifest(write_manifest(tmp_path / "a.json", [entry]))
    twice = [manifest_entry(NAME, trained_weights, REPO, "main")] * 2
    with pytest.raises(ManifestError, match="used by both"):
        manifest.read_manifest(write_manifest(tmp_path / "b.json", twice))
    with pytest.raises(ManifestError, match="default 'nope'"):
        manifest.read_manifest(write_manifest(tmp_path / "c.json", [], default="nope"))


# -- local files -------------------------------------------------------------------------------


def test_unknown_name_lists_names_and_close_matches(
    trained_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pomai.manifest.MANIFEST_PATH", write_manifest(
        tmp_path / "m.json", [manifest_entry(NAME, trained_weights, REPO, "main")]))
    with pytest.raises(UnknownModelError) as info:
        pomai.load("pomai-tset-tiny")
    message = str(info.value)
    assert "unknown model 'pomai-tset-tiny'" in message
    assert f"Did you mean '{NAME}'" in message and f"Released models: {NAME}" in message


def test_unknown_name_with_an_empty_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(manifest, "MANIFEST_PATH", write_manifest(tmp_path / "manifest.json", []))
    with pytest.raises(UnknownModelError, match="none in this pomai version yet.*hf-hub:"):
        pomai.load("pomai-msrs")


def test_missing_local_file_is_named() -> None:
    with pytest.raises(UnknownModelError, match="weights file 'nowhere/x.safetensors' does not"):
        pomai.load("nowhere/x.safetensors")


def test_a_released_name_wins_over_a_same_named_folder_unless_written_as_a_path(
    trained_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dataset folder called msrs in the working directory does not hide the release."""
    (tmp_path / "msrs").mkdir()
    shutil.copy(trained_weights, tmp_path / "msrs" / "model.safetensors")
    monkeypatch.chdir(tmp_path)
    released = hub.resolve("msrs")
    assert released.entry is not None and released.entry.name == "msrs"
    for folder in ("./msrs", str(tmp_path / "msrs"), Path("msrs")):
        local = hub.resolve(folder)
        assert local.entry is None and local.path == Path(folder) / "model.safetensors"
    with pytest.raises(UnknownModelError, match="'./msrs-paper' does not exist: check the "
                       "path. To load the released model 'msrs-paper', pass its name alone"):
        hub.resolve("./msrs-paper")
    with pytest.raises(UnknownModelError, match=r"written as a path \(e.g. './NAME'\)"):
        hub.resolve("mrss")


def test_pickle_files_are_refused_without_being_read(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"not even read")
    with pytest.raises(CheckpointMismatchError, match="safetensors only \\(no pickle\\)"):
        pomai.load(path)


def test_run_folder_sha256_is_checked(trained_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run"
    shutil.copytree(trained_run, folder)
    assert pomai.load(folder).source == f"folder {folder}"
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatchError, match="was not loaded. Delete it and download"):
        pomai.load(folder)


def test_metadata_and_key_mismatches_are_listed(trained_weights: Path, tmp_path: Path) -> None:
    state = load_file(trained_weights)
    with safe_open(trained_weights, framework="pt") as f:
        metadata = f.metadata()

    no_meta = tmp_path / "no_meta.safetensors"
    save_file(state, no_meta)
    with pytest.raises(CheckpointMismatchError, match="not a pomai checkpoint.*pomai_config"):
        pomai.load(no_meta)

    edited = dict(state)
    edited.pop("decoder.head.0.weight")
    edited["extra.weight"] = torch.zeros(1)
    wrong_keys = tmp_path / "keys.safetensors"
    save_file(edited, wrong_keys, metadata=metadata)
    with pytest.raises(CheckpointMismatchError) as info:
        pomai.load(wrong_keys)
    assert "missing keys decoder.head.0.weight" in str(info.value)
    assert "unexpected keys extra.weight" in str(info.value)

    other_width = json.loads(metadata["pomai_config"]) | {"width": 16}
    wrong_config = tmp_path / "config.safetensors"
    save_file(state, wrong_config, metadata={**metadata, "pomai_config": json.dumps(other_width)})
    with pytest.raises(CheckpointMismatchError, match="has shape .* the network expects"):
        pomai.load(wrong_config)

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(trained_weights.read_bytes()[:100])
    with pytest.raises(CheckpointMismatchError, match="corrupt or truncated"):
        pomai.load(truncated)


# -- bundled-only models (no Hub repository) -----------------------------------------------------


@pytest.fixture
def bundled_only(
    trained_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A manifest whose entry NAME has no ``hub``, its file in a stand-in pomai/weights/, and
    the Hub download made to fail the test if it is ever reached."""
    def no_hub(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a bundled-only model reached the Hub: {args}")

    monkeypatch.setattr(hub, "download", no_hub)
    return install_bundled_only(NAME, trained_weights, tmp_path, monkeypatch)


def test_bundled_only_model_loads_its_bundled_file(
    bundled_only: Path, trained_weights: Path
) -> None:
    fuser = pomai.load(f"{NAME}-alias", offline=False)
    assert fuser.source == f"{NAME} (bundled)"
    assert fuser.entry.name == NAME and fuser.entry.hub is None
    reference = pomai.load(trained_weights)
    for name, value in reference.model.state_dict().items():
        assert torch.equal(fuser.model.state_dict()[name], value), name
    assert hub.cached_path(fuser.entry) is None

    bundled_only.write_bytes(bundled_only.read_bytes()[:-1] + b"\0")
    with pytest.raises(ChecksumMismatchError, match="was not loaded"):
        pomai.load(NAME)


def test_bundled_only_model_has_no_revision(bundled_only: Path) -> None:
    with pytest.raises(ValueError, match=f"{NAME} is only distributed inside the pomai package "
                                         "\\(no Hub repository\\).*'v2'"):
        pomai.load(NAME, revision="v2")


def test_bundled_only_model_without_its_file_says_to_reinstall(bundled_only: Path) -> None:
    bundled_only.unlink()
    with pytest.raises(WeightsUnavailableError) as info:
        pomai.load(NAME)
    message = str(info.value)
    assert str(bundled_only) in message and "reinstall pomai" in message
    assert "no Hub repository" in message


# -- the real download path --------------------------------------------------------------------


@pytest.fixture
def fake_hub(
    trained_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FakeHub]:
    """A running fake Hub serving the trained weights, HF_ENDPOINT pointing at it, a manifest
    entry for it pinned to the served commit, and an isolated Hub cache (HF_HUB_CACHE)."""
    server = FakeHub()
    server.add(REPO, "model.safetensors", trained_weights.read_bytes())
    server.start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("pomai.manifest.MANIFEST_PATH", write_manifest(
        tmp_path / "manifest.json", [manifest_entry(NAME, trained_weights, REPO, server.commit)]))
    yield server
    server.stop()


def test_download_then_reuse_from_cache_with_the_server_stopped(
    fake_hub: FakeHub, trained_weights: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    fuser = pomai.load(NAME, cache_dir=cache)
    path = f"/{REPO}/resolve/{fake_hub.commit}/model.safetensors"
    assert fake_hub.file_requests == [("HEAD", path), ("GET", path)]
    blobs = list((cache / "models--pomai-test--tiny" / "blobs").iterdir())
    assert [b.read_bytes() for b in blobs] == [trained_weights.read_bytes()]
    reference = pomai.load(trained_weights)
    for name, value in reference.model.state_dict().items():
        assert torch.equal(fuser.model.state_dict()[name], value), name

    fake_hub.stop()
    again = pomai.load(f"{NAME}-alias", cache_dir=cache)
    assert again.entry.name == NAME
    assert len(fake_hub.file_requests) == 2  # nothing more reached the server


def test_offline_uses_the_cache_and_never_the_network(
    fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(WeightsUnavailableError) as info:
        pomai.load(NAME, cache_dir=cache, offline=True)
    message = str(info.value)
    for advice in ("not in the local cache", "pomai download", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        assert advice in message
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsUnavailableError, match="downloads are off"):
        pomai.load(NAME, cache_dir=cache)
    assert fake_hub.file_requests == []

    monkeypatch.delenv("HF_HUB_OFFLINE")
    pomai.load(NAME, cache_dir=cache)
    requests = len(fake_hub.file_requests)
    pomai.load(NAME, cache_dir=cache, offline=True)
    assert len(fake_hub.file_requests) == requests


def test_hf_hub_reference_is_checked_against_the_lfs_sha256(
    fake_hub: FakeHub, trained_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pomai.manifest.MANIFEST_PATH", write_manifest(tmp_path / "empty.json", []))
    fuser = pomai.load(f"hf-hub:{REPO}@main", cache_dir=tmp_path / "cache")
    assert fuser.source == f"hf-hub:{REPO}@main"
    assert ("GET", f"/{REPO}/resolve/main/model.safetensors") in fake_hub.file_requests

    # A server whose bytes do not match the sha256 it announces (ETag).
    corrupt = bytearray(trained_weights.read_bytes())
    corrupt[-1] ^= 0xFF
    fake_hub.add("pomai-test/bad", "model.safetensors", bytes(corrupt),
                 etag=fake_hub.files[(REPO, "model.safetensors")].etag)
    with pytest.raises(ChecksumMismatchError, match="was not loaded"):
        pomai.load("hf-hub:pomai-test/bad", cache_dir=tmp_path / "cache")

    # A branch revision with the server gone: huggingface_hub's HEAD fails, the cached ref wins.
    fake_hub.stop()
    assert pomai.load(f"hf-hub:{REPO}", cache_dir=tmp_path / "cache").source == fuser.source


def test_checksum_mismatch_never_loads_the_file(
    fake_hub: FakeHub, trained_weights: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt = bytearray(trained_weights.read_bytes())
    corrupt[len(corrupt) // 2] ^= 0xFF
    fake_hub.add(REPO, "model.safetensors", bytes(corrupt))  # honest ETag of the corrupt bytes
    opened: list[str] = []
    monkeypatch.setattr("safetensors.torch.load_file", lambda *a, **k: opened.append(a[0]))
    monkeypatch.setattr("safetensors.safe_open", lambda *a, **k: opened.append(a[0]))
    with pytest.raises(ChecksumMismatchError) as info:
        pomai.load(NAME, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert "expected" in message and "Delete it and download it again" in message
    assert opened == []


def test_missing_repository_is_a_clear_error(fake_hub: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailableError, match="not on the Hub.*RepositoryNotFoundError"):
        pomai.load("hf-hub:nobody/nothing", cache_dir=tmp_path / "cache")
