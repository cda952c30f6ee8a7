"""Where weights come from: a released name, a Hub reference or a local path, and the download.

Resolution order of :func:`resolve`:

1. ``hf-hub:owner/repo[@revision]`` (file ``model.safetensors``, unless a manifest entry names
   that repository);
2. a manifest name or alias (:mod:`pomai.manifest`), unless the argument is clearly a path (a
   separator, an extension, a leading ``.`` or ``~``): the bundled file under ``pomai/weights/``
   when the entry has one, else the Hub file at the pinned revision. An entry without ``hub`` is
   bundled-only: it has no Hub repository, so no revision and nothing to download. A folder
   named like a released model (a dataset called ``msrs``, say) does not hide it: write
   ``./msrs`` for the folder;
3. a local ``.safetensors`` file, or a directory holding ``model.safetensors`` (a training run
   folder; its ``manifest_entry.json`` sha256 is checked when present).

Downloads go through ``huggingface_hub.hf_hub_download`` (its cache, locking, resume, progress
bars, ``HF_HOME`` / ``HF_HUB_CACHE`` / ``HF_HUB_OFFLINE`` / ``HF_ENDPOINT``; the last two are also
read when pomai calls it, not only when huggingface_hub is imported). :func:`resolve` returns
the file with the sha256 it must have: the manifest's, a run folder's record, or for a Hub file
outside the manifest the Hub's own LFS sha256; :mod:`pomai.checkpoint` checks and loads it.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from pomai.checkpoint import WEIGHTS_NAME, ResolvedWeights, recorded_sha256
from pomai.errors import (
    CheckpointMismatchError,
    ChecksumMismatchError,
    UnknownModelError,
    UsageError,
    WeightsUnavailableError,
)
from pomai.manifest import SHA256_PATTERN, WeightsEntry, read_manifest

HF_PREFIX = "hf-hub:"

_TRUE = {"1", "ON", "YES", "TRUE"}


# -- resolution ---------------------------------------------------------------------------------


def resolve(
    name_or_path: str | os.PathLike,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
) -> ResolvedWeights:
    """A local weights file for ``name_or_path``, downloading it if needed (module docs).

    A released name wins over a file or folder of the same name in the working directory,
    unless the argument is clearly a path: an ``os.PathLike``, or text with a path separator,
    a file extension, a leading ``.`` or ``~``, or an absolute path (``./msrs`` is the folder,
    ``msrs`` the released model).
    """
    text = os.fspath(name_or_path)
    if text.startswith(HF_PREFIX):
        return _from_hub_reference(text[len(HF_PREFIX):], revision, cache_dir, offline)
    clearly_path = isinstance(name_or_path, os.PathLike) or _looks_like_path(text)
    entry = None if clearly_path else read_manifest().find(text)
    if entry is not None:
        return _from_entry(entry, revision, cache_dir, offline)
    path = Path(text).expanduser()
    if path.is_dir():
        return _from_directory(path)
    if path.is_file():
        if path.suffix != ".safetensors":
            raise CheckpointMismatchError(
                f"{path} is not a .safetensors file; pomai loads safetensors only (no pickle). "
                "Convert a PyTorch state dict with safetensors.torch.save_file."
            )
        return ResolvedWeights(path, None, None, f"file {path}")
    if clearly_path:
        released = read_manifest().find(path.name)
        hint = (f" To load the released model {released.name!r}, pass its name alone."
                if released is not None else "")
        raise UnknownModelError(f"weights file {text!r} does not exist: check the path.{hint}")
    raise UnknownModelError(_unknown_name_message(text))


def _looks_like_path(text: str) -> bool:
    """Text that can only mean a file or folder, never a released name."""
    separators = {"/", os.sep, os.altsep} - {None}
    return (any(sep in text for sep in separators) or text.startswith((".", "~"))
            or bool(Path(text).suffix) or os.path.isabs(text))


def _unknown_name_message(name: str) -> str:
    m = read_manifest()
    known = [n for e in m.entries for n in e.names]
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    listing = ", ".join(m.names()) if known else "none in this pomai version yet"
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return (
        f"unknown model {name!r}.{hint} Released models: {listing}. Other sources: a local "
        ".safetensors file or run folder, written as a path (e.g. './NAME'), or "
        "'hf-hub:owner/repo[@revision]'. 'pomai list' shows the released models."
    )


def _from_directory(path: Path) -> ResolvedWeights:
    weights = path / WEIGHTS_NAME
    if not weights.is_file():
        found = sorted(p.name for p in path.glob("*.safetensors"))
        if len(found) != 1:
            raise UnknownModelError(
                f"folder {path} holds no {WEIGHTS_NAME}"
                + (f" but several .safetensors files {found}" if found else "")
                + ": pass the path of the weights file itself (a finished 'pomai train' run "
                "folder holds model.safetensors)."
            )
        weights = path / found[0]
    return ResolvedWeights(weights, recorded_sha256(path, weights.name), None, f"folder {path}")


def _from_hub_reference(
    reference: str, revision: str | None, cache_dir: Any, offline: bool | None
) -> ResolvedWeights:
    repo_id, _, ref_revision = reference.partition("@")
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise UnknownModelError(
            f"'{HF_PREFIX}{reference}' is not a Hub reference: write "
            f"'{HF_PREFIX}owner/repo' or '{HF_PREFIX}owner/repo@revision'."
        )
    if ref_revision and revision and ref_revision != revision:
        raise UsageError(
            f"two revisions given: {ref_revision!r} in the reference and revision={revision!r}"
        )
    revision = ref_revision or revision
    for entry in read_manifest().entries:
        if entry.hub is not None and entry.hub.repo_id == repo_id and revision in (
            None, entry.hub.revision
        ):
            return _from_entry(entry, revision, cache_dir, offline)
    return _from_hub_file(repo_id, WEIGHTS_NAME, revision, cache_dir, offline)


def _from_hub_file(
    repo_id: str, filename: str, revision: str | None, cache_dir: Any, offline: bool | None
) -> ResolvedWeights:
    """A Hub file outside the manifest, checked against the Hub's own sha256."""
    label = f"{HF_PREFIX}{repo_id}@{revision or 'main'}"
    path = download(repo_id, filename, revision=revision, cache_dir=cache_dir, offline=offline,
                    label=label)
    # The Hub stores .safetensors with Git LFS, whose ETag (the cached blob's name) is the
    # file's sha256; huggingface_hub does not re-hash it, so pomai does.
    blob = path.resolve().name
    if not SHA256_PATTERN.fullmatch(blob):
        raise ChecksumMismatchError(
            f"{label}: the Hub gave no sha256 for {filename} (not stored with Git LFS), so "
            "pomai cannot verify it and will not load it. Download it yourself and pass the "
            "local path."
        )
    return ResolvedWeights(path, blob, None, label)


def _from_entry(
    entry: WeightsEntry, revision: str | None, cache_dir: Any, offline: bool | None
) -> ResolvedWeights:
    hub = entry.hub
    if hub is None:
        return _from_bundled_only(entry, revision)
    bundled = entry.bundled_path
    if bundled is not None and revision in (None, hub.revision) and bundled.is_file():
        return ResolvedWeights(bundled, entry.sha256, entry, f"{entry.name} (bundled)")
    if revision not in (None, hub.revision):
        # Another revision of the same repository: the manifest's sha256 does not apply.
        return _from_hub_file(hub.repo_id, hub.filename, revision, cache_dir, offline)
    path = download(hub.repo_id, hub.filename, revision=hub.revision, cache_dir=cache_dir,
                    offline=offline, label=entry.name)
    return ResolvedWeights(path, entry.sha256, entry, f"{entry.name} ({hub.repo_id})")


def _from_bundled_only(entry: WeightsEntry, revision: str | None) -> ResolvedWeights:
    if revision is not None:
        raise UsageError(
            f"{entry.name} is only distributed inside the pomai package (no Hub repository), so "
            f"there is no revision {revision!r} to fetch: load it without a revision "
            "(no --revision)."
        )
    bundled = entry.bundled_path
    assert bundled is not None  # the schema requires 'bundled' when there is no 'hub'
    if not bundled.is_file():
        raise WeightsUnavailableError(
            f"the weights of {entry.name} ship inside the pomai package, but {bundled} is "
            "missing and there is no Hub repository to download them from: reinstall pomai "
            "(pip install --force-reinstall pomai), or restore the file in a source checkout."
        )
    return ResolvedWeights(bundled, entry.sha256, entry, f"{entry.name} (bundled)")


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` if given, else whether ``HF_HUB_OFFLINE`` is set (now or at import)."""
    if offline is not None:
        return offline
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE or constants.is_offline_mode()


def download(
    repo_id: str,
    filename: str,
    *,
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    offline: bool | None = None,
    label: str | None = None,
) -> Path:
    """``hf_hub_download`` into the Hub cache (or ``cache_dir``); clear errors on failure."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.utils import (
        EntryNotFoundError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from pomai import __version__

    label = label or f"{repo_id}/{filename}"
    local_only = is_offline(offline)
    endpoint = os.environ.get("HF_ENDPOINT", "").rstrip("/") or None
    try:
        path = hf_hub_download(
            repo_id, filename, revision=revision,
            cache_dir=None if cache_dir is None else os.fspath(cache_dir),
            local_files_only=local_only, endpoint=endpoint,
            library_name="pomai", library_version=__version__,
        )
    except LocalEntryNotFoundError:
        reason = ("downloads are off (offline=True or HF_HUB_OFFLINE=1)" if local_only
                  else "the Hub could not be reached")
        raise WeightsUnavailableError(
            f"weights {label} ({repo_id}/{filename} at revision {revision or 'main'}) are not in "
            f"the local cache{_cache_note(cache_dir)} and {reason}. Pre-download them on a "
            f"connected machine with 'pomai download {label}' (same HF_HOME / HF_HUB_CACHE or "
            "--cache-dir) and copy the cache, or go online (unset HF_HUB_OFFLINE); behind a "
            "mirror, set HF_ENDPOINT to its URL."
        ) from None
    except (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError) as err:
        raise WeightsUnavailableError(
            f"weights {label}: {repo_id}/{filename} at revision {revision or 'main'} is not on "
            f"the Hub at {endpoint or 'the default endpoint'} ({type(err).__name__}). Check the "
            "name and revision; for a private repository log in with 'hf auth login'."
        ) from None
    except HfHubHTTPError as err:
        raise WeightsUnavailableError(
            f"downloading weights {label} failed: {err}. Retry later, or set HF_ENDPOINT to a "
            "mirror."
        ) from None
    return Path(path)


def _cache_note(cache_dir: Any) -> str:
    return f" ({cache_dir})" if cache_dir is not None else ""


def cached_path(
    entry: WeightsEntry, cache_dir: str | os.PathLike | None = None
) -> Path | None:
    """The cached file of ``entry`` at its pinned revision, or None (also for a bundled-only
    entry, which has nothing in the Hub cache); no network access."""
    if entry.hub is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        entry.hub.repo_id, entry.hub.filename, revision=entry.hub.revision,
        cache_dir=None if cache_dir is None else os.fspath(cache_dir),
    )
    return Path(found) if isinstance(found, str) else None
