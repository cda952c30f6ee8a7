"""The weights manifest: what each released checkpoint is, and the schema its entries follow.

``pomai/weights_manifest.json`` ships in the package and lists every released checkpoint
(docs/api.md describes the fields); ``scripts/release_weights.py`` writes it. The JSON schema of
an entry is :class:`WeightsEntry` itself: a field without a default is required, a field with
one optional, and each field's type hint is the JSON type it must have.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pomai.config import PoMAIConfig
from pomai.errors import ManifestError, UnknownModelError

MANIFEST_PATH = Path(__file__).with_name("weights_manifest.json")
BUNDLED_DIR = Path(__file__).with_name("weights")
SCHEMA_VERSION = 1
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")

# Fields, beyond their JSON type, that must hold these keys.
_NESTED_REQUIRED = {
    "training": ("data", "budget"),
    "input": ("infrared", "visible", "range"),
    "metrics": ("code",),
}


@dataclass(frozen=True)
class HubFile:
    """Where a released checkpoint lives on the Hugging Face Hub, at a pinned revision."""

    repo_id: str
    filename: str
    revision: str


@dataclass(frozen=True, kw_only=True)
class WeightsEntry:
    """One released checkpoint of the manifest.

    ``hub`` is None for a bundled-only entry (no Hub repository, so no revision and nothing to
    download); such an entry always has ``bundled``, a file name under ``pomai/weights/``.
    """

    name: str
    aliases: tuple[str, ...]
    description: str
    config: dict[str, Any]
    inference_stage: int
    hub: HubFile | None = None
    sha256: str
    size_bytes: int
    licence: str
    training: dict[str, Any]
    input: dict[str, Any]
    metrics: dict[str, Any]
    tiling: dict[str, Any] = dataclasses.field(default_factory=dict)
    bundled: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def bundled_path(self) -> Path | None:
        """The bundled weights file under ``pomai/weights/`` (it may be missing), or None."""
        return None if self.bundled is None else BUNDLED_DIR / self.bundled

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> WeightsEntry:
        """An entry from its JSON object, which :func:`entry_problems` found valid."""
        values = {f.name: raw[f.name] for f in dataclasses.fields(cls) if f.name in raw}
        values["aliases"] = tuple(raw["aliases"])
        values["hub"] = HubFile(**raw["hub"]) if raw.get("hub") else None
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The entry as its JSON object (the inverse of :meth:`from_json`)."""
        raw = dataclasses.asdict(self)
        raw["aliases"] = list(self.aliases)
        return raw


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


def _json_types(hint: Any) -> tuple[type, ...]:
    """The JSON (Python) types a field of type ``hint`` is written as."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return tuple(t for arg in typing.get_args(hint) for t in _json_types(arg))
    origin = typing.get_origin(hint) or hint
    return {tuple: (list,), HubFile: (dict,)}.get(origin, (origin,))


def _schema() -> tuple[dict[str, tuple[type, ...]], set[str]]:
    """Each entry field's JSON types, and the required fields (those without a default)."""
    hints = typing.get_type_hints(WeightsEntry)
    fields = dataclasses.fields(WeightsEntry)
    required = {f.name for f in fields
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    return {f.name: _json_types(hints[f.name]) for f in fields}, required


def read_manifest(path: str | os.PathLike | None = None) -> Manifest:
    """Parse and validate a weights manifest (default: the one shipped with this pomai);
    ManifestError lists every problem."""
    path = MANIFEST_PATH if path is None else path
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
        problems_here = entry_problems(raw)
        if problems_here:
            label = raw.get("name", f"#{i}") if isinstance(raw, dict) else f"#{i}"
            problems += [f"model {label}: {p}" for p in problems_here]
            continue
        entries.append(WeightsEntry.from_json(raw))
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


def entry_problems(raw: Any) -> list[str]:
    """What is wrong with one entry's JSON object; empty when it follows the schema."""
    if not isinstance(raw, dict):
        return ["must be a JSON object"]
    kinds, required = _schema()
    problems = []
    for key, kind in kinds.items():
        if key not in raw:
            if key in required:
                problems.append(f"missing field {key!r}")
        elif not isinstance(raw[key], kind) or isinstance(raw[key], bool):
            problems.append(f"field {key!r} has the wrong type {type(raw[key]).__name__}")
    unknown = sorted(set(raw) - set(kinds))
    if unknown:
        problems.append(f"unknown fields {unknown}")
    if problems:
        return problems
    for key, keys in _NESTED_REQUIRED.items():
        missing = [k for k in keys if k not in raw[key]]
        if missing:
            problems.append(f"{key} lacks {missing}")
    hub = raw.get("hub")
    hub_fields = [f.name for f in dataclasses.fields(HubFile)]
    if hub is None:
        if raw.get("bundled") is None:
            problems.append("needs 'hub' (a Hub repository) or 'bundled' (a file under "
                            "pomai/weights/), or both")
    elif missing_hub := [k for k in hub_fields if not isinstance(hub.get(k), str)]:
        problems.append(f"hub lacks {missing_hub}")
    elif unknown_hub := sorted(set(hub) - set(hub_fields)):
        problems.append(f"hub has unknown fields {unknown_hub}")
    elif not hub["filename"].endswith(".safetensors"):
        problems.append("hub.filename must be a .safetensors file")
    if not SHA256_PATTERN.fullmatch(raw["sha256"]):
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


def list_models() -> list[str]:
    """Names of the released checkpoints (use any of them, or an alias, with pomai.load)."""
    return read_manifest().names()


def default_model() -> str:
    """The manifest's default model name; an error says what to do when there is none."""
    default = read_manifest().default
    if default is None:
        raise UnknownModelError(
            "this pomai version has no released weights yet, so there is no default model: pass "
            "the path of a .safetensors checkpoint or of a training run folder (pomai train "
            "--out DIR writes DIR/model.safetensors)."
        )
    return default
