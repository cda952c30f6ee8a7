"""A Hub-compatible file server on 127.0.0.1 for the real ``hf_hub_download`` path.

For a file that is not cached yet, ``hf_hub_download`` makes two kinds of request (read in
huggingface_hub/file_download.py of the installed version, 2.4):

* ``HEAD {endpoint}/{repo_id}/resolve/{revision}/{filename}``: it needs ``X-Repo-Commit`` (the
  commit the revision points to), ``ETag`` (for Git LFS files, the file's sha256; the cache
  names the blob after it) and ``Content-Length``;
* ``GET`` of the same URL (no redirect) for the bytes.

Errors are told apart by the ``X-Error-Code`` header (``RepoNotFound``, ``RevisionNotFound``,
``EntryNotFound``). No ``/api/models/...`` endpoint is used for a single file. Besides, once per
process, building the user-agent header makes a best-effort ``GET /api/agent-harnesses`` (a
registry of coding agents) at the endpoint huggingface_hub saw at import; this server answers
404, which huggingface_hub ignores. Every request is logged in :attr:`FakeHub.requests`;
:attr:`FakeHub.file_requests` keeps the file ones.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    import pytest


@dataclass
class HostedFile:
    content: bytes
    etag: str  # what the server claims as the file's sha256 (an honest server: the true one)


@dataclass
class FakeHub:
    """Serves ``files[(repo_id, filename)]`` at ``revision`` "main" and at ``commit``."""

    commit: str = "0123456789abcdef0123456789abcdef01234567"
    files: dict[tuple[str, str], HostedFile] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    def add(self, repo_id: str, filename: str, content: bytes, etag: str | None = None) -> None:
        self.files[(repo_id, filename)] = HostedFile(
            content, etag or hashlib.sha256(content).hexdigest()
        )

    url: str = ""

    @property
    def file_requests(self) -> list[tuple[str, str]]:
        return [(method, path) for method, path in self.requests if "/resolve/" in path]

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
                self._answer(body=False)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(body=True)

            def _answer(self, body: bool) -> None:
                hub.requests.append((self.command, self.path))
                parts = unquote(self.path.split("?")[0]).lstrip("/").split("/")
                if len(parts) < 5 or parts[2] != "resolve":
                    return self._error(404, "RepoNotFound")
                repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
                if not any(repo == repo_id for repo, _ in hub.files):
                    return self._error(404, "RepoNotFound")
                if revision not in ("main", hub.commit):
                    return self._error(404, "RevisionNotFound")
                hosted = hub.files.get((repo_id, filename))
                if hosted is None:
                    return self._error(404, "EntryNotFound")
                self.send_response(200)
                self.send_header("X-Repo-Commit", hub.commit)
                self.send_header("ETag", f'"{hosted.etag}"')
                self.send_header("Content-Length", str(len(hosted.content)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if body:
                    self.wfile.write(hosted.content)

            def _error(self, status: int, code: str) -> None:
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Repo-Commit", hub.commit)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        server = self._server
        threading.Thread(target=lambda: server.serve_forever(0.05), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def manifest_entry(
    name: str, weights: Path, repo_id: str | None, revision: str = "main", **changes: Any
) -> dict[str, Any]:
    """A complete manifest entry (schema of pomai.manifest) for a local weights file; without
    ``hub`` when ``repo_id`` is None (then pass ``bundled=``)."""
    from safetensors import safe_open

    with safe_open(weights, framework="pt") as f:
        metadata = f.metadata()
    entry = {
        "name": name,
        "aliases": [f"{name}-alias"],
        "description": "test checkpoint made by the project's trainer in a few steps",
        "config": json.loads(metadata["pomai_config"]),
        "inference_stage": int(metadata["inference_stage"]),
        "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
        "size_bytes": weights.stat().st_size,
        "licence": "Apache-2.0",
        "training": {"data": "synthetic", "budget": "4 steps"},
        "input": {"infrared": "1 channel", "visible": "BT.601 Y", "range": "[0, 1]"},
        "metrics": {"code": "none"},
    }
    if repo_id is not None:
        entry["hub"] = {"repo_id": repo_id, "filename": weights.name, "revision": revision}
    entry.update(changes)
    return entry


def write_manifest(path: Path, entries: list[dict[str, Any]], default: str | None = None) -> Path:
    path.write_text(json.dumps({"schema_version": 1, "default": default, "models": entries}))
    return path


def install_bundled_only(
    name: str, weights: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Point pomai.manifest at a manifest under ``root`` whose one entry ``name`` is bundled-only
    (no ``hub``), with ``weights`` copied into a stand-in for pomai/weights/; the copy's path."""
    bundled_dir = root / "weights"
    bundled_dir.mkdir()
    bundled = bundled_dir / f"{name}.safetensors"
    bundled.write_bytes(weights.read_bytes())
    entry = manifest_entry(name, weights, None, bundled=bundled.name)
    monkeypatch.setattr("pomai.manifest.BUNDLED_DIR", bundled_dir)
    monkeypatch.setattr("pomai.manifest.MANIFEST_PATH",
                        write_manifest(root / "manifest.json", [entry]))
    return bundled
