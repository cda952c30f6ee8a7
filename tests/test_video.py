"""pomai.video and ``pomai fuse-video`` on tiny videos made here with PyAV: the fused video
keeps the visible video's frames, timing, audio and metadata; misaligned inputs are refused in
one line and leave nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import pomai
from pomai.cli import main
from pomai.video import flicker, video_info

av = pytest.importorskip("av")

H, W, FRAMES, RATE = 48, 64, 6, 10
LUMA = np.array([0.299, 0.587, 0.114])


def _scene(frames: int, seed: int = 0) -> list[np.ndarray]:
    """A slow pan over smooth random texture: (H, W, 3) uint8 frames."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (H // 4 + frames, W // 4 + frames, 3)).astype(np.uint8)
    texture = coarse.repeat(4, 0).repeat(4, 1)
    return [np.ascontiguousarray(texture[i : i + H, i : i + W]) for i in range(frames)]


def _write(path: Path, frames: list[np.ndarray], *, audio: bool = False,
           title: str | None = None) -> Path:
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4",
                               rate=RATE)
        video.height, video.width = frames[0].shape[:2]
        video.pix_fmt = "yuv420p"
        if title:
            out.metadata["title"] = title
        if audio:
            sound = out.add_stream("aac", rate=16000)
            sound.layout = "mono"
        for i, image in enumerate(frames):
            rgb = image if image.ndim == 3 else np.dstack([image] * 3)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if audio:
            t = np.arange(16000 * len(frames) // RATE) / 16000
            samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            chunk = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 16000, 0
            out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
    return path


def _decode(path: Path) -> tuple[list[np.ndarray], list[float]]:
    with av.open(str(path)) as container:
        frames = list(container.decode(video=0))
        return [f.to_ndarray(format="rgb24") for f in frames], [float(f.time) for f in frames]


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("videos")
    scene = _scene(FRAMES)
    ir = _write(root / "ir.mp4", [f[..., 0] for f in scene])
    vis = _write(root / "vis.mp4", [f[..., ::-1] for f in scene], audio=True, title="pan")
    return ir, vis


def test_fused_video_keeps_frames_timing_audio_and_metadata(videos, tmp_path: Path) -> None:
    ir, vis = videos
    out = tmp_path / "fused.mp4"
    assert main(["fuse-video", str(ir), str(vis), "-o", str(out), "--batch-size", "4",
                 "--no-progress", "--device", "cpu"]) == 0
    assert os.listdir(tmp_path) == ["fused.mp4"]  # no temporary file left
    info = video_info(out)
    assert (info.width, info.height, info.frames, info.rate) == (W, H, FRAMES, RATE)
    with av.open(str(out)) as container, av.open(str(vis)) as source:
        assert container.metadata["title"] == "pan"
        assert [s.codec_context.name for s in container.streams.audio] == ["aac"]
        assert container.streams.audio[0].frames == source.streams.audio[0].frames
    fused, times = _decode(out)
    visible, visible_times = _decode(vis)
    assert times == visible_times
    # The frames are the fused frames (through a lossy encoder), not the visible ones.
    expected = list(pomai.load("msrs", device="cpu").fuse_stream(
        zip((f[..., 0] for f in _decode(ir)[0]), visible, strict=True), batch_size=4))
    # Compared on luminance: 4:2:0 chroma subsampling blurs the random colours of the scene.
    error, off = (np.mean([np.abs((a.astype(float) - b) @ LUMA).mean()
                           for a, b in zip(fused, frames, strict=True)])
                  for frames in (expected, visible))
    assert error < 8 and off > 4 * error, (error, off)  # measured: 4.4 and 29.8 levels


def test_videos_of_different_sizes_or_lengths_are_refused_in_one_line(
    videos, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ir, vis = videos
    shorter = _write(tmp_path / "short.mp4", _scene(FRAMES - 1))
    out = tmp_path / "out" / "fused.mp4"
    assert main(["fuse-video", str(shorter), str(vis), "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{FRAMES - 1} frames" in err and f"{FRAMES}" in err
    cropped = _write(tmp_path / "cropped.mp4", [np.ascontiguousarray(f[:32]) for f in _scene(3)])
    assert main(["fuse-video", str(cropped), str(vis), "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{W}×32" in err and f"{W}×{H}" in err
    # Matroska records no frame count: the mismatch shows at the end of the shorter video,
    # and the output, written so far to a temporary file, is removed.
    ir_mkv = _write(tmp_path / "ir.mkv", _scene(FRAMES))
    vis_mkv = _write(tmp_path / "vis.mkv", _scene(FRAMES - 2))
    assert video_info(ir_mkv).frames == 0
    out = tmp_path / "mkv" / "fused.mkv"
    assert main(["fuse-video", str(ir_mkv), str(vis_mkv), "-o", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "infrared video has more frames" in err
    assert os.listdir(out.parent) == []
    with pytest.raises(pomai.InputError, match="not a file"):
        video_info(tmp_path / "missing.mp4")


def test_flicker_is_the_mean_absolute_frame_change() -> None:
    still = [np.full((4, 4), 100, np.uint8)] * 3
    assert flicker(still) == 0.0
    ramp = [np.full((4, 4), v, np.float32) for v in (0.0, 0.5, 0.25)]
    assert flicker(ramp) == pytest.approx((0.5 + 0.25) / 2)
    with pytest.raises(ValueError, match="two frames"):
        flicker(still[:1])
