"""Released weights: the manifest, name resolution, download, sha256 check and strict loading.

``pomai/weights_manifest.json`` (a copy sits at the repository root; a test keeps them equal)
lists every released checkpoint. Resolution order of :func:`resolve`:

1. ``hf-hub:owner/repo[@revision]`` (file ``model.safetensors``, unless a manifest entry names
   that repository);
2. a manifest name or alias, unless the argument is clearly a path (a separator, an extension,
   a leading ``.`` or ``~``): the bundled file under ``pomai/weights/`` when the entry has one,
   else the Hub file at the pinned revision. An entry without ``hub`` is bundled-only: it has
   no Hub repository, so no revision and nothing to download. A folder named like a released
   model (a dataset called ``msrs``, say) does not hide it: write ``./msrs`` for the folder;
3. a local ``.safetensors`` file, or a directory holding ``model.safetensors`` (a training run
   folder; its ``manifest_entry.json`` sha256 is checked when present).

Downloads go through ``huggingface_hub.hf_hub_download`` (its cache, locking, resume, progress
bars, ``HF_HOME`` / ``HF_HUB_CACHE`` / ``HF_HUB_OFFLINE`` / ``HF_ENDPOINT``; the last two are also
read when pomai calls it, not only when huggingface_hub is imported). Every downloaded or
bundled file is sha256-verified before it is opened: against the manifest, or for a Hub file
outside the manifest against the Hub's own LFS sha256. Loading is safetensors-only and strict.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pomai.config import PoMAIConfig
from pomai.errors import (
    CheckpointMismatchError,
    ChecksumMismatchError,
    ManifestError,
    UnknownModelError,
    UsageError,
    WeightsUnavailableError,
)

MANIFEST_PATH = Path(__file__).with_name("weights_manifest.json")
BUNDLED_DIR = Path(__file__).with_name("weights")
WEIGHTS_NAME = "model.safetensors"
RUN_MANIFEST_ENTRY = "manifest_entry.json"
HF_PREFIX = "hf-hub:"
SCHEMA_VERSION = 1

_SHA256 = re.compile(r"[0-9a-f]{64}")
_TRUE = {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class WeightsEntry:
    """One released checkpoint of the manifest (docs/api.md, "Weights manifest").

    ``repo_id``, ``filename`` and ``revision`` are None for a bundled-only entry (no Hub
    repository); such an entry always has ``bundled``.
    """

    name: str
    aliases: tuple[str, ...]
    description: str
    config: dict[str, Any]
    inference_stage: int
    repo_id: str | None
    filename: str | None
    revision: str | None
    sha256: str
    size_bytes: int
    licence: str
    training: dict[str, Any]
    input: dict[str, Any]
    metrics: dict[str, Any]
    tiling: dict[str, Any] = field(default_factory=dict)
    bundled: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True)
class Manifest:
    entries: tuple[WeightsEntry, ...]
    default: str | None

    def names(self) -> list[str]:
        return [e.name for e in self.entries]

    def find(self, name: str) -> WeightsEntry | None:
        folded = name.casefold()
        for entry in self.entries:
            if folded in (n.casefold() for n in entry.names):
                return entry
        return None


@dataclass(frozen=True)
class ResolvedWeights:
    """A local weights file and what it must match: sha256 (None: the user's own file)."""

    path: Path
    sha256: str | None
    entry: WeightsEntry | None
    source: str


# -- the manifest -------------------------------------------------------------------------------

_ENTRY_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str, "aliases": list, "description": str, "config": dict, "inference_stage": int,
    "sha256": str, "size_bytes": int, "licence": str, "training": dict, "input": dict,
    "metrics": dict,
}
_OPTIONAL_FIELDS: dict[str, type | tuple[type, ...]] = {
    "hub": (dict, type(None)), "tiling": dict, "bundled": (str, type(None)),
}
_HUB_FIELDS = ("repo_id", "filename", "revision")
_NESTED_REQUIRED = {
    "training": ("data", "budget"),
    "input": ("infrared", "visible", "range"),
    "metrics": ("code",),
}


def read_manifest(path: str | os.PathLike = MANIFEST_PATH) -> Manifest:
    """Parse and validate a weights manifest; ManifestError lists every problem."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ManifestError(f"cannot read weights manifest {path}: {err}") from None
    problems: list[str] = []
    if not isinstance(data, dict) or data.get("schema_version") != SCHEMA_VERSION:
        raise ManifestError(
            f"weights manifest {path} must be an object with schema_version {SCHEMA_VERSION}; "
            "upgrade pomai if it comes from a newer version"
        )
    entries = []
    for i, raw in enumerate(data.get("models", [])):
        entry_problems = _entry_problems(raw)
        if entry_problems:
            label = raw.get("name", f"#{i}") if isinstance(raw, dict) else f"#{i}"
            problems += [f"model {label}: {p}" for p in entry_problems]
            continue
        hub = raw.get("hub") or {}
        entries.append(WeightsEntry(
            name=raw["name"], aliases=tuple(raw["aliases"]), description=raw["description"],
            config=raw["config"], inference_stage=raw["inference_stage"],
            repo_id=hub.get("repo_id"), filename=hub.get("filename"),
            revision=hub.get("revision"),
            sha256=raw["sha256"], size_bytes=raw["size_bytes"], licence=raw["licence"],
            training=raw["training"], input=raw["input"], metrics=raw["metrics"],
            tiling=raw.get("tiling", {}), bundled=raw.get("bundled"),
        ))
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        for name in entry.names:
            other = seen.setdefault(name.casefold(), i)
            if other != i:
                problems.append(f"name {name!r} is used by both {entries[other].name} (entry "
                                f"{other}) and {entry.name} (entry {i})")
    default = data.get("default")
    if default is not None and default not in [e.name for e in entries]:
        problems.append(f"default {default!r} is not the name of a model in the manifest")
    if problems:
        raise ManifestError(f"weights manifest {path} is invalid: " + "; ".join(problems))
    return Manifest(tuple(entries), default)


def _entry_problems(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return ["must be a JSON object"]
    problems = []
    for key, kind in {**_ENTRY_FIELDS, **_OPTIONAL_FIELDS}.items():
        if key not in raw:
            if key in _ENTRY_FIELDS:
                problems.append(f"missing field {key!r}")
        elif not isinstance(raw[key], kind) or isinstance(raw[key], bool):
            problems.append(f"field {key!r} has the wrong type {type(raw[key]).__name__}")
    unknown = sorted(set(raw) - set(_ENTRY_FIELDS) - set(_OPTIONAL_FIELDS))
    if unknown:
        problems.append(f"unknown fields {unknown}")
    if problems:
        return problems
    for key, required in _NESTED_REQUIRED.items():
        missing = [k for k in required if k not in raw[key]]
        if missing:
            problems.append(f"{key} lacks {missing}")
    hub = raw.get("hub")
    if hub is None:
        if raw.get("bundled") is None:
            problems.append("needs 'hub' (a Hub repository) or 'bundled' (a file under "
                            "pomai/weights/), or both")
    elif missing_hub := [k for k in _HUB_FIELDS if not isinstance(hub.get(k), str)]:
        problems.append(f"hub lacks {missing_hub}")
    elif not hub["filename"].endswith(".safetensors"):
        problems.append("hub.filename must be a .safetensors file")
    if not _SHA256.fullmatch(raw["sha256"]):
        problems.append("sha256 must be 64 lower-case hex digits")
    if raw["size_bytes"] <= 0:
        problems.append("size_bytes must be positive")
    if raw["inference_stage"] not in (1, 2):
        problems.append("inference_stage must be 1 or 2")
    if not all(isinstance(a, str) for a in raw["aliases"]):
        problems.append("aliases must be strings")
    bundled = raw.get("bundled")
    if bundled is not None and (Path(bundled).name != bundled or
                                not bundled.endswith(".safetensors")):
        problems.append("bundled must be a .safetensors file name under pomai/weights/")
    try:
        PoMAIConfig.from_dict(raw["config"])
    except (TypeError, ValueError) as err:
        problems.append(f"config: {err}")
    return problems


def manifest() -> Manifest:
    """The manifest shipped with this pomai."""
    return read_manifest(MANIFEST_PATH)


def list_models() -> list[str]:
    """Names of the released checkpoints (use any of them, or an alias, with pomai.load)."""
    return manifest().names()


def default_model() -> str:
    """The manifest's default model name; an error says what to do when there is none."""
    default = manifest().default
    if default is None:
        raise UnknownModelError(
            "this pomai version has no released weights yet, so there is no default model: pass "
            "the path of a .safetensors checkpoint or of a training run folder (pomai train "
            "--out DIR writes DIR/model.safetensors)."
        )
    return default


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
    entry = None if clearly_path else manifest().find(text)
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
        released = manifest().find(path.name)
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
    m = manifest()
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
    entry_file = path / RUN_MANIFEST_ENTRY
    sha256 = _recorded_sha256(entry_file, weights.name) if entry_file.is_file() else None
    return ResolvedWeights(weights, sha256, None, f"folder {path}")


def _recorded_sha256(entry_file: Path, weights_name: str) -> str | None:
    """The sha256 a run folder's manifest_entry.json records for ``weights_name``, if any."""
    def malformed(problem: str) -> CheckpointMismatchError:
        return CheckpointMismatchError(
            f"{entry_file} is malformed: {problem}. It is written by 'pomai train'; restore it "
            "or delete it (the weights are then loaded without a recorded checksum)."
        )

    try:
        recorded = json.loads(entry_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise malformed(f"not readable JSON ({err})") from None
    if not isinstance(recorded, dict):
        raise malformed(f"it holds a JSON {type(recorded).__name__}, not an object")
    if not isinstance(recorded.get("filename"), (str, type(None))):
        raise malformed(f"field 'filename' is {recorded['filename']!r}, not a file name")
    if recorded.get("filename") != weights_name:
        return None
    sha256 = recorded.get("sha256")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise malformed(f"field 'sha256' is {sha256!r}, not 64 lower-case hex digits")
    return sha256


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
    for entry in manifest().entries:
        if entry.repo_id == repo_id and revision in (None, entry.revision):
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
    if not _SHA256.fullmatch(blob):
        raise ChecksumMismatchError(
            f"{label}: the Hub gave no sha256 for {filename} (not stored with Git LFS), so "
            "pomai cannot verify it and will not load it. Download it yourself and pass the "
            "local path."
        )
    return ResolvedWeights(path, blob, None, label)


def _from_entry(
    entry: WeightsEntry, revision: str | None, cache_dir: Any, offline: bool | None
) -> ResolvedWeights:
    if entry.repo_id is None or entry.filename is None:
        return _from_bundled_only(entry, revision)
    if entry.bundled and revision in (None, entry.revision):
        bundled = BUNDLED_DIR / entry.bundled
        if bundled.is_file():
            return ResolvedWeights(bundled, entry.sha256, entry, f"{entry.name} (bundled)")
    if revision not in (None, entry.revision):
        # Another revision of the same repository: the manifest's sha256 does not apply.
        return _from_hub_file(entry.repo_id, entry.filename, revision, cache_dir, offline)
    path = download(entry.repo_id, entry.filename, revision=entry.revision, cache_dir=cache_dir,
                    offline=offline, label=entry.name)
    return ResolvedWeights(path, entry.sha256, entry, f"{entry.name} ({entry.repo_id})")


def _from_bundled_only(entry: WeightsEntry, revision: str | None) -> ResolvedWeights:
    if revision is not None:
        raise UsageError(
            f"{entry.name} is only distributed inside the pomai package (no Hub repository), so "
            f"there is no revision {revision!r} to fetch: load it without a revision "
            "(no --revision)."
        )
    assert entry.bundled is not None  # the schema requires 'bundled' when there is no 'hub'
    bundled = BUNDLED_DIR / entry.bundled
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


# -- verification and loading -------------------------------------------------------------------


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(weights: ResolvedWeights) -> None:
    """Raise ChecksumMismatchError unless the file's sha256 is the expected one (if any)."""
    if weights.sha256 is None:
        return
    actual = sha256_of(weights.path)
    if actual != weights.sha256:
        raise ChecksumMismatchError(
            f"weights {weights.source} at {weights.path} have sha256 {actual}, expected "
            f"{weights.sha256}: the file is corrupt, incomplete or was replaced, and was not "
            "loaded. Delete it and download it again ('pomai download NAME', or "
            "hf_hub_download(..., force_download=True)); re-export it if it is your own run."
        )


def read_metadata(path: Path) -> tuple[PoMAIConfig, int]:
    """The network config and inference stage stored in a pomai safetensors file."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, framework="pt") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError) as err:
        raise CheckpointMismatchError(
            f"{path} is not a readable safetensors file ({err}): it is corrupt or truncated; "
            "download or export it again."
        ) from None
    missing = [k for k in ("pomai_config", "inference_stage") if k not in metadata]
    if missing:
        raise CheckpointMismatchError(
            f"{path} is not a pomai checkpoint: its metadata lacks {missing}. pomai writes "
            "these when it exports weights (pomai train); other files cannot be loaded."
        )
    # The metadata is untrusted: the config is checked field by field (types, ranges, size of
    # the network) before anything is built from it.
    try:
        config = PoMAIConfig.from_json(metadata["pomai_config"])
    except (TypeError, ValueError) as err:
        raise CheckpointMismatchError(
            f"{path}: metadata field 'pomai_config' is invalid ({err}); the file was edited or "
            "not written by pomai: re-export it."
        ) from None
    if metadata["inference_stage"] not in ("1", "2"):
        raise CheckpointMismatchError(
            f"{path}: metadata field 'inference_stage' must be '1' or '2', got "
            f"{metadata['inference_stage']!r}; the file was edited or not written by pomai: "
            "re-export it."
        )
    return config, int(metadata["inference_stage"])


def check_weights(weights: ResolvedWeights) -> tuple[PoMAIConfig, int]:
    """Everything checked before loading, nothing allocated: the sha256 (if one is expected),
    the metadata (config and stage) and, for a manifest model, its entry. Returns the config
    and inference stage."""
    verify(weights)
    config, stage = read_metadata(weights.path)
    if weights.entry is not None:
        _check_against_entry(weights, config, stage)
    return config, stage


def load_model(weights: ResolvedWeights) -> tuple[Any, int]:
    """Verify, read and strictly load ``weights``: (PoMAI model on CPU, inference stage)."""
    from safetensors.torch import load_file

    from pomai.nn.pomai import PoMAI

    config, stage = check_weights(weights)
    state = load_file(weights.path)
    model = PoMAI(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    missing = sorted(set(expected) - set(got))
    unexpected = sorted(set(got) - set(expected))
    reshaped = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    if missing or unexpected or reshaped:
        details = [f"{label} keys {_short(keys)}" for label, keys in
                   (("missing", missing), ("unexpected", unexpected)) if keys]
        details += [f"{k} has shape {got[k]}, the network expects {expected[k]}"
                    for k in reshaped[:5]]
        raise CheckpointMismatchError(
            f"weights {weights.source} do not fit the network their config describes: "
            + "; ".join(details)
            + ". The file was written by a different pomai version or edited; re-export it."
        )
    model.load_state_dict(state, strict=True)
    return model, stage


def _check_against_entry(weights: ResolvedWeights, config: PoMAIConfig, stage: int) -> None:
    entry = weights.entry
    assert entry is not None
    listed = PoMAIConfig.from_dict(entry.config)
    diffs = [f"{k}: manifest {v!r}, file {getattr(config, k)!r}"
             for k, v in listed.to_dict().items() if getattr(config, k) != v]
    if stage != entry.inference_stage:
        diffs.append(f"inference_stage: manifest {entry.inference_stage}, file {stage}")
    if diffs:
        raise CheckpointMismatchError(
            f"weights {weights.source} do not match their manifest entry ({'; '.join(diffs)}). "
            "The manifest or the file is wrong: report it, or load the file by path."
        )


def _short(keys: list[str]) -> str:
    return ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")


def cached_path(
    entry: WeightsEntry, cache_dir: str | os.PathLike | None = None
) -> Path | None:
    """The cached file of ``entry`` at its pinned revision, or None (also for a bundled-only
    entry, which has nothing in the Hub cache); no network access."""
    if entry.repo_id is None or entry.filename is None:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(
        entry.repo_id, entry.filename, revision=entry.revision,
        cache_dir=None if cache_dir is None else os.fspath(cache_dir),
    )
    return Path(found) if isinstance(found, str) else None
