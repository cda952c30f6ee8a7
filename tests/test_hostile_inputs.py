"""Hostile and careless inputs, API and command line: nothing loses data, hangs or exhausts
memory, and every refusal is one clear error (no traceback, no silently wrong image).

Three tables: images and arguments given to ``Fuser.fuse``; weights files and run folders given
to ``pomai.load``; and the command line, checked for its exit status and the absence of
"Traceback". Hostile files (a PNG header claiming 60000×60000, FIFOs, link loops, animations,
weights whose metadata describes an absurd network) are built in the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

import pomai
from pomai import io
from pomai.cli import main
from pomai.errors import CheckpointMismatchError, InputError
from pomai.fuser import Fuser

SHAPE = (40, 44)  # H, W of the good test images: above MIN_TILE, so a tile of 32 tiles it


def _grey(seed: int, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width × height`` grey pixels, with no pixel data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


# -- hostile files, each written into a folder and its path returned ------------------------


def _good(folder: Path, name: str = "good.png", seed: int = 0) -> Path:
    Image.fromarray(_grey(seed)).save(folder / name)
    return folder / name


def _fifo(folder: Path, name: str = "fifo.png") -> Path:
    os.mkfifo(folder / name)
    return folder / name


def _loop(folder: Path, name: str = "loop.png") -> Path:
    (folder / name).symlink_to(folder / name)
    return folder / name


def _broken_link(folder: Path, name: str = "broken.png") -> Path:
    (folder / name).symlink_to(folder / "nowhere.png")
    return folder / name


def _bomb(folder: Path, name: str = "bomb.png") -> Path:
    (folder / name).write_bytes(_png_header(60000, 60000))
    return folder / name


def _over_pomai_limit(folder: Path, name: str = "big.png") -> Path:
    """Over pomai's limit but under Pillow's own warning threshold: only pomai refuses it."""
    (folder / name).write_bytes(_png_header(9000, 8000))
    return folder / name


def _animated_gif(folder: Path, name: str = "anim.gif") -> Path:
    frames = [Image.fromarray(_grey(i)) for i in range(3)]
    frames[0].save(folder / name, save_all=True, append_images=frames[1:])
    return folder / name


def _two_page_tiff(folder: Path, name: str = "pages.tif") -> Path:
    pages = [Image.fromarray(_grey(i)) for i in range(2)]
    pages[0].save(folder / name, save_all=True, append_images=pages[1:])
    return folder / name


def _corrupt(folder: Path, name: str = "corrupt.png") -> Path:
    (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return folder / name


def _transposed(folder: Path, name: str = "rotated.png") -> Path:
    Image.fromarray(_grey(5, SHAPE[::-1])).save(folder / name)
    return folder / name


HOSTILE_FILES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("fifo", _fifo, "is not a regular file .*FIFO"),
    ("device", lambda folder: Path(os.devnull), "is not a regular file .*device"),
    ("symlink-loop", _loop, "cannot open infrared image .*link loop"),
    ("broken-link", _broken_link, "is a symbolic link to a missing file"),
    ("missing", lambda folder: folder / "missing.png", "does not exist"),
    ("folder", lambda folder: folder, "is a folder"),
    ("corrupt", _corrupt, "cannot read infrared image .*corrupt"),
    ("bomb-60000x60000", _bomb, "larger than Pillow's decompression-bomb limit"),
    ("over-pomai-limit", _over_pomai_limit,
     "is 9000×8000 = 72000000 pixels .*over pomai's decoding limit of 67108864"),
    ("animated-gif", _animated_gif, "has 3 frames \\(GIF.*save the frame you want"),
    ("multi-page-tiff", _two_page_tiff, "has 2 frames \\(TIFF"),
    ("rotated-90", _transposed, "sizes are transposed.*EXIF orientation"),
]


@pytest.fixture(scope="module")
def fuser(trained_weights: Path) -> Fuser:
    return pomai.load(trained_weights, device="cpu")


@pytest.mark.parametrize(("make", "message"), [(m, msg) for _, m, msg in HOSTILE_FILES],
                         ids=[case for case, _, _ in HOSTILE_FILES])
def test_hostile_image_files_are_refused_in_one_line(
    fuser: Fuser, tmp_path: Path, make: Callable[[Path], Path], message: str
) -> None:
    start = time.monotonic()
    with pytest.raises(InputError, match=message) as info:
        fuser.fuse(make(tmp_path), _good(tmp_path))
    assert "\n" not in str(info.value)
    assert time.monotonic() - start < 10  # nothing blocks (FIFO) or decodes a bomb


# -- arrays, tensors and arguments ---------------------------------------------------------

G = _grey(0)

HOSTILE_ARGUMENTS: list[tuple[str, Any, Any, dict[str, Any], type[Exception], str]] = [
    # Already refused well before this table existed: sizes, dtypes, values, layouts.
    ("sizes-differ", G, _grey(1, (40, 45)), {}, InputError, "infrared is 40×44 and visible is"),
    ("batch-differs", torch.rand(2, 1, 8, 8), torch.rand(3, 1, 8, 8), {}, InputError,
     "infrared batch has 2 images"),
    ("int32", G.astype(np.int32), G, {}, InputError, "infrared array has dtype int32"),
    ("bool", G, G > 3, {}, InputError, "visible array has dtype bool"),
    ("nan", np.full(SHAPE, np.nan, np.float32), G, {}, InputError, "NaN or infinite"),
    ("inf", G, torch.full((1, *SHAPE), float("inf")), {}, InputError, "NaN or infinite"),
    ("float-255", G, G.astype(np.float32), {}, InputError, "outside \\[0, 1\\]"),
    ("empty", np.zeros((0, 4), np.uint8), np.zeros((0, 4), np.uint8), {}, InputError,
     "is empty"),
    ("channels-first", G, np.zeros((3, *SHAPE), np.uint8), {}, InputError,
     "looks channels-first"),
    ("rgba-3-rows", np.zeros((3, 5), np.uint8), np.zeros((3, 5, 4), np.uint8), {}, InputError,
     "drop the alpha channel"),
    ("false-colour-ir", np.dstack([G, _grey(2), G]), G, {}, InputError,
     "three different colour channels"),
    ("list", [[0, 1]], G, {}, InputError, "of type list is not supported"),
    # Arguments that could not finish, or would be silently ignored.
    ("tile-1", G, G, {"tile": 1}, ValueError, "an int >= 32, got 1: smaller windows"),
    ("tile-7", G, G, {"tile": 7}, ValueError, "an int >= 32, got 7"),
    ("tile-0", G, G, {"tile": 0}, ValueError, "an int >= 32"),
    ("tile-true", G, G, {"tile": True}, ValueError, "got True"),
    ("tile-text", G, G, {"tile": "big"}, ValueError, "got 'big'"),
    ("overlap-0.99", G, G, {"tile": 32, "overlap": 0.99}, ValueError, "so many windows"),
    ("overlap-1", G, G, {"tile": 32, "overlap": 1.0}, ValueError, "in \\[0, 0.75\\]"),
    ("overlap-negative", G, G, {"overlap": -0.1}, ValueError, "got -0.1"),
    ("overlap-text", G, G, {"overlap": "half"}, ValueError, "got 'half'"),
    ("blend-untiled", G, G, {"blend": "nope"}, ValueError, "blend must be"),
    ("arguments-before-files", "missing-ir.png", "missing-vis.png", {"tile": 7}, ValueError,
     "an int >= 32"),
]


@pytest.mark.parametrize(
    ("ir", "vis", "kwargs", "error", "message"), [case[1:] for case in HOSTILE_ARGUMENTS],
    ids=[case[0] for case in HOSTILE_ARGUMENTS],
)
def test_hostile_arrays_and_arguments_are_refused(
    fuser: Fuser, ir: Any, vis: Any, kwargs: dict[str, Any], error: type[Exception],
    message: str,
) -> None:
    start = time.monotonic()
    with pytest.raises(error, match=message):
        fuser.fuse(ir, vis, **kwargs)
    assert time.monotonic() - start < 5


def test_the_tile_arguments_of_fuse_luminance_are_checked_too(fuser: Fuser) -> None:
    ir = torch.rand(1, 1, 64, 64)
    with pytest.raises(ValueError, match="an int >= 32"):
        fuser.fuse_luminance(ir, ir, tile=1)
    with pytest.raises(ValueError, match="blend must be"):
        fuser.fuse_luminance(ir, ir, blend="nope")


def test_big_endian_grad_and_minimum_tile_inputs_are_fused(fuser: Fuser) -> None:
    """Accepted now: >u2 arrays, tensors that require grad (no warning, no grad out), and the
    smallest tile."""
    import warnings

    sixteen = G.astype(np.uint16) * 257
    expected = fuser.fuse(G, sixteen)
    assert np.array_equal(fuser.fuse(G, sixteen.astype(">u2")), expected)
    vis = torch.from_numpy(G / 255.0).float()[None].requires_grad_()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = fuser.fuse(torch.from_numpy(G)[None], vis)
    assert not out.requires_grad
    assert fuser.fuse(G, G, tile=32).shape == SHAPE


def test_the_pixel_limit_can_be_raised(
    fuser: Fuser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = _good(tmp_path)
    monkeypatch.setattr(io, "MAX_IMAGE_PIXELS", SHAPE[0] * SHAPE[1] - 1)
    with pytest.raises(InputError, match="over pomai's decoding limit of 1759.*raise pomai.io"):
        fuser.fuse(good, good)
    monkeypatch.setattr(io, "MAX_IMAGE_PIXELS", SHAPE[0] * SHAPE[1])
    assert fuser.fuse(good, good).size == SHAPE[::-1]


def test_one_fuser_shared_by_four_threads_gives_the_same_results(fuser: Fuser) -> None:
    pairs = [(torch.rand(1, 1, *SHAPE), torch.rand(1, 3, *SHAPE)) for _ in range(4)]
    expected = [fuser.fuse(ir, vis) for ir, vis in pairs]
    results: list[Any] = [None] * 4

    def work(i: int) -> None:
        results[i] = fuser.fuse(*pairs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(torch.equal(r, e) for r, e in zip(results, expected, strict=True))


# -- weights files: untrusted input ----------------------------------------------------------


def _with_metadata(source: Path, target: Path, **changes: str) -> Path:
    with safe_open(source, framework="pt") as f:
        metadata = f.metadata()
    save_file(load_file(source), target, metadata={**metadata, **changes})
    return target


def _config_with(source: Path, **changes: Any) -> str:
    with safe_open(source, framework="pt") as f:
        return json.dumps(json.loads(f.metadata()["pomai_config"]) | changes)


HOSTILE_CONFIGS: list[tuple[str, dict[str, Any], str]] = [
    ("encoder-blocks-1e7", {"encoder_blocks": 10**7}, "encoder_blocks must be in \\[0, 32\\]"),
    ("width-400000", {"width": 400000}, "width must be in \\[2, 1024\\]"),
    ("kernel-null", {"scb_kernel": None}, "scb_kernel must be an int, got None"),
    ("width-string", {"width": "8"}, "width must be an int, got '8'"),
    ("huge-network", {"width": 1024, "heads": 8, "encoder_blocks": 32, "decoder_blocks": 32},
     "parameters, over the limit"),
]


@pytest.mark.parametrize(("changes", "message"), [c[1:] for c in HOSTILE_CONFIGS],
                         ids=[c[0] for c in HOSTILE_CONFIGS])
def test_a_hostile_config_in_a_weights_file_is_refused_before_allocation(
    trained_weights: Path, tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = _with_metadata(trained_weights, tmp_path / "hostile.safetensors",
                          pomai_config=_config_with(trained_weights, **changes))
    start = time.monotonic()
    with pytest.raises(CheckpointMismatchError,
                       match=f"{path}: metadata field 'pomai_config' is invalid .*{message}"):
        pomai.load(path, device="cpu")
    assert time.monotonic() - start < 5


@pytest.mark.parametrize(("metadata", "message"), [
    ({"pomai_config": "{"}, "'pomai_config' is invalid .*Expecting property name"),
    ({"pomai_config": "[1, 2]"}, "'pomai_config' is invalid .*JSON object of fields, got list"),
    ({"inference_stage": "x"}, "'inference_stage' must be '1' or '2', got 'x'"),
    ({"inference_stage": "3"}, "'inference_stage' must be '1' or '2', got '3'"),
], ids=["config-not-json", "config-a-list", "stage-text", "stage-3"])
def test_malformed_metadata_names_the_file_and_the_field(
    trained_weights: Path, tmp_path: Path, metadata: dict[str, str], message: str
) -> None:
    path = _with_metadata(trained_weights, tmp_path / "bad.safetensors", **metadata)
    with pytest.raises(CheckpointMismatchError, match=f"{path}: metadata field {message}"):
        pomai.load(path, device="cpu")


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2]", "it holds a JSON list, not an object"),
    ("{not json", "not readable JSON"),
    ('{"filename": 5}', "field 'filename' is 5"),
    ('{"filename": "model.safetensors", "sha256": null}', "field 'sha256' is None"),
], ids=["list", "not-json", "filename-int", "sha256-null"])
def test_malformed_run_manifest_entry_names_the_file_and_the_field(
    trained_run: Path, tmp_path: Path, text: str, message: str
) -> None:
    folder = tmp_path / "run"
    shutil.copytree(trained_run, folder)
    (folder / "manifest_entry.json").write_text(text)
    entry = folder / "manifest_entry.json"
    with pytest.raises(CheckpointMismatchError, match=f"{entry} is malformed: {message}"):
        pomai.load(folder, device="cpu")


# -- the command line: exit status, one line, never a traceback -------------------------------


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    """ir/ and vi/ with good pairs a and c around a hostile infrared b (a 60000² bomb)."""
    ir, vis = tmp_path / "ir", tmp_path / "vi"
    ir.mkdir()
    vis.mkdir()
    for seed, stem in enumerate("abc"):
        _good(vis, f"{stem}.png", 10 + seed)
        if stem != "b":
            _good(ir, f"{stem}.png", seed)
    _bomb(ir, "b.png")
    return ir, vis


def _fuse(ir: Path, vis: Path, out: Path, model: Path, *flags: str) -> list[str]:
    return ["fuse", str(ir), str(vis), "-o", str(out), "--model", str(model), "--device", "cpu",
            "--no-progress", *flags]


CLI_REFUSALS: list[tuple[str, Callable[[Path, Path, Path], tuple[list[str], list[str]]], str]] = [
    ("out-is-input-folder", lambda ir, vis, tmp: ([str(ir), str(vis), "-o", str(vis)], []),
     "is or is inside the input folder"),
    ("out-inside-input-folder",
     lambda ir, vis, tmp: ([str(ir), str(vis), "-o", str(ir / "fused")], []),
     "is or is inside the input folder"),
    ("out-is-input-file",
     lambda ir, vis, tmp: ([str(ir / "a.png"), str(vis / "a.png"), "-o", str(vis / "a.png")],
                           []), "is the input image"),
    ("out-folder-names-input-file",
     lambda ir, vis, tmp: ([str(ir / "a.png"), str(vis / "a.png"), "-o", str(vis)], []),
     "is the input image"),
    ("overlap-1", lambda ir, vis, tmp: ([str(ir), str(vis), "-o", str(tmp / "o")],
                                        ["--overlap", "1.0"]), "overlap is the fraction"),
    ("overlap-0.99", lambda ir, vis, tmp: ([str(ir), str(vis), "-o", str(tmp / "o")],
                                           ["--overlap", "0.99"]), "would not finish"),
    ("tile-7", lambda ir, vis, tmp: ([str(ir), str(vis), "-o", str(tmp / "o")],
                                     ["--tile", "7"]), "an int >= 32, got 7"),
    ("tile-0", lambda ir, vis, tmp: ([str(ir), str(vis), "-o", str(tmp / "o")],
                                     ["--tile", "0"]), "a positive tile side in pixels, got '0'"),
    ("max-pixels-0", lambda ir, vis, tmp: ([str(ir), str(vis), "-o", str(tmp / "o")],
                                           ["--max-pixels", "0"]),
     "expected an integer >= 1, got 0"),
]


@pytest.mark.parametrize(("build", "message"), [c[1:] for c in CLI_REFUSALS],
                         ids=[c[0] for c in CLI_REFUSALS])
def test_the_command_line_refuses_before_any_work(
    trained_weights: Path, folders: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], build: Callable[..., tuple[list[str], list[str]]],
    message: str,
) -> None:
    before = {p: p.read_bytes() for folder in folders for p in folder.iterdir()}
    paths, flags = build(*folders, tmp_path)
    code, output = _run(["fuse", *paths, "--model", str(trained_weights), "--no-progress",
                         *flags], capsys)
    assert code == 2
    assert message in output and "Traceback" not in output
    assert {p: p.read_bytes() for folder in folders for p in folder.iterdir()} == before
    assert not (tmp_path / "o").exists()


def test_a_bomb_in_a_folder_is_one_line_and_the_run_goes_on(
    trained_weights: Path, folders: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    code, output = _run(_fuse(*folders, out, trained_weights), capsys)
    assert code == 1
    assert sorted(os.listdir(out)) == ["a.png", "c.png"]
    assert "skipped b.png + b.png: infrared image" in output
    assert "60000×60000 = 3600000000 pixels (W×H), over pomai's decoding limit" in output
    assert "wrote 2 fused images" in output and "; 1 failed" in output
    assert "Traceback" not in output and "DecompressionBomb" not in output


def test_max_pixels_sets_the_limit_for_the_run(
    trained_weights: Path, folders: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = _run(_fuse(*folders, tmp_path / "out", trained_weights,
                              "--max-pixels", str(SHAPE[0] * SHAPE[1] - 1)), capsys)
    assert code == 1 and "wrote 0 fused images" in output and "; 3 failed" in output
    assert output.count("over pomai's decoding limit of 1759") == 3
    assert io.MAX_IMAGE_PIXELS == 2**26 and Image.MAX_IMAGE_PIXELS is not None  # restored
    help_text = _run(["fuse", "--help"], capsys)[1]
    assert f"default {io.MAX_IMAGE_PIXELS}" in help_text


def test_folder_problems_are_reported_and_every_good_pair_fused(
    trained_weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Duplicate stems, a link loop, a broken link, a FIFO, a multi-page file and a rotated
    image: one line each, and the good pair is fused."""
    ir, vis = tmp_path / "ir", tmp_path / "vi"
    ir.mkdir()
    vis.mkdir()
    for stem in ("good", "dup", "pages", "rot"):
        _good(vis, f"{stem}.png")
    _good(ir, "good.png")
    _good(ir, "dup.png")
    _good(ir, "dup.jpg")
    _loop(ir, "loop.png")
    _broken_link(vis, "gone.png")
    _fifo(ir, "fifo.png")
    _two_page_tiff(ir, "pages.tif")
    _transposed(ir, "rot.png")
    out = tmp_path / "out"
    code, output = _run(_fuse(ir, vis, out, trained_weights), capsys)
    assert code == 1
    assert os.listdir(out) == ["good.png"]
    for line in (f"{ir / 'dup.jpg'} and {ir / 'dup.png'} share the stem 'dup'",
                 f"{ir / 'loop.png'} cannot be read (a broken symbolic link or a link loop)",
                 f"{vis / 'gone.png'} cannot be read (a broken symbolic link",
                 f"{ir / 'fifo.png'} is not a regular file",
                 "skipped pages.tif + pages.png: infrared image", "has 2 frames (TIFF",
                 "skipped rot.png + rot.png: infrared and visible images differ in size",
                 "wrote 1 fused image to"):
        assert line in output
    assert "Traceback" not in output


def test_an_unexpected_error_in_one_pair_is_one_line(
    trained_weights: Path, folders: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Fuser.fuse

    def flaky(self: Fuser, ir: Path, vis: Path, **kwargs: Any) -> Any:
        if ir.stem == "a":
            raise RuntimeError("a kernel failed\nwith a second line")
        return original(self, ir, vis, **kwargs)

    monkeypatch.setattr(Fuser, "fuse", flaky)
    code, output = _run(_fuse(*folders, tmp_path / "out", trained_weights), capsys)
    assert code == 1
    assert "skipped a.png + a.png: RuntimeError: a kernel failed with a second line" in output
    assert os.listdir(tmp_path / "out") == ["c.png"]
    assert "wrote 1 fused image" in output and "Traceback" not in output


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_stops_with_the_summary_and_no_temporary_file(
    trained_weights: Path, folders: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, presses: int,
) -> None:
    """Ctrl-C while the first pair's output is written (its temporary file exists): once, the
    pair is finished; twice, it is abandoned and its temporary file removed. Either way no
    later pair runs, the summary prints and the exit is 130."""
    original = os.replace

    def interrupted_replace(source: str, target: str) -> None:
        for _ in range(presses):
            os.kill(os.getpid(), signal.SIGINT)
        original(source, target)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    out = tmp_path / "out"
    code, output = _run(_fuse(*folders, out, trained_weights), capsys)
    assert code == 130
    assert sorted(os.listdir(out)) == (["a.png"] if presses == 1 else [])
    assert ("wrote 1 fused image" if presses == 1 else "wrote 0 fused images") in output
    assert f"interrupted, {2 if presses == 1 else 3} not fused" in output
    assert "Traceback" not in output
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_hostile_weights_file_fails_info_verify_and_fuse_cleanly(
    trained_weights: Path, folders: tuple[Path, Path], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    hostile = _with_metadata(trained_weights, tmp_path / "hostile.safetensors",
                             pomai_config=_config_with(trained_weights, encoder_blocks=10**7))
    for argv in (["info", str(hostile)], _fuse(*folders, tmp_path / "out", hostile)):
        code, output = _run(argv, capsys)
        assert code == 2 and "encoder_blocks must be in [0, 32]" in output
        assert "Traceback" not in output
    assert not (tmp_path / "out").exists()

    from fake_hub import install_bundled_only, manifest_entry, write_manifest

    bundled = install_bundled_only("pomai-test", trained_weights, tmp_path, monkeypatch)
    entry = manifest_entry("pomai-test", bundled, None, bundled=bundled.name,
                           config=json.loads(_config_with(trained_weights, rotation_seed=5)))
    monkeypatch.setattr("pomai.manifest.MANIFEST_PATH",
                        write_manifest(tmp_path / "m.json", [entry]))
    code, output = _run(["verify"], capsys)
    assert code == 1
    assert "pomai-test bundled: INVALID" in output and "rotation_seed: manifest 5, file 0" in output
