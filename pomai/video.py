"""Video fusion: two aligned videos (infrared, visible) in, one fused video out, with PyAV.

The two videos must have the same frame size and the same number of frames, frame ``i`` of one
showing the scene of frame ``i`` of the other. Frames are decoded as they are needed (8-bit
grey infrared, 8-bit RGB visible), fused in batches (:meth:`pomai.Fuser.fuse_stream`) and
encoded at the visible video's timestamps; the visible file's audio streams are copied
unchanged and its container and stream metadata (title, creation time, language, ...) are
kept. The output is written to a temporary file beside it and renamed at the end, so an error or
Ctrl-C leaves no partial video.

Every frame is fused on its own (NGMM hashes each frame separately); :func:`flicker` measures
what that does to temporal stability (docs/deploy.md).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pomai.atomic import atomic_file
from pomai.errors import InputError
from pomai.io import Role
from pomai.normalization import DEFAULT_NORMALIZE, Normalize
from pomai.optional import require
from pomai.tiling import Tile

if TYPE_CHECKING:
    from pomai.fuser import Fuser

# Encoder when none is named: H.264 where this FFmpeg build has it, else MPEG-4 part 2.
PREFERRED_CODECS = ("libx264", "mpeg4")


@dataclass(frozen=True)
class VideoInfo:
    """What a video file's header says about its first video stream.

    ``frames`` is 0 when the container does not record a frame count.
    """

    width: int
    height: int
    frames: int
    rate: Fraction | None


def video_info(path: str | os.PathLike, role: Role = "visible") -> VideoInfo:
    """The first video stream of ``path``; an :class:`InputError` when there is none or the
    file cannot be read as a video."""
    with _open(path, role) as container:
        stream = _video_stream(container, path, role)
        return VideoInfo(stream.codec_context.width, stream.codec_context.height,
                         stream.frames, stream.average_rate)


def flicker(frames: Sequence[np.ndarray]) -> float:
    """Mean absolute change between consecutive frames, on the [0, 1] scale.

    ``frames``: (H, W) or (H, W, C) arrays of one shape, uint8 (divided by 255) or float in
    [0, 1]. A static scene gives 0; the measure of a fused video is compared with the
    measures of its two sources.
    """
    if len(frames) < 2:
        raise ValueError("flicker needs at least two frames")
    scale = 255.0 if frames[0].dtype == np.uint8 else 1.0
    stack = np.stack([np.asarray(f, np.float64) / scale for f in frames])
    return float(np.abs(np.diff(stack, axis=0)).mean())


def fuse_video(
    fuser: Fuser,
    ir: str | os.PathLike,
    vis: str | os.PathLike,
    out: str | os.PathLike,
    *,
    batch_size: int = 8,
    normalize: Normalize = DEFAULT_NORMALIZE,
    tile: Tile = "auto",
    codec: str | None = None,
    progress: bool = False,
) -> int:
    """Fuse the infrared video ``ir`` with the visible video ``vis`` into ``out``; returns the
    number of frames written. See the module docs; the container format follows ``out``'s
    suffix (.mp4, .mkv, .mov, .avi, ...), ``codec`` names the video encoder (default: the
    first of :data:`PREFERRED_CODECS` that this FFmpeg build has)."""
    av = require("av", "video fusion")
    from tqdm.auto import tqdm

    ir_info, vis_info = video_info(ir, "infrared"), video_info(vis, "visible")
    _check_aligned(ir_info, vis_info)
    codec = codec or next((c for c in PREFERRED_CODECS if c in av.codecs_available), "mpeg4")
    if codec not in av.codecs_available:
        raise InputError(f"video codec {codec!r} is not in this FFmpeg build: name another "
                         f"(e.g. {', '.join(PREFERRED_CODECS)}) with --codec")
    timestamps: deque[tuple[int | None, Fraction | None]] = deque()
    written = 0
    with (_open(ir, "infrared") as ir_file, _open(vis, "visible") as vis_file,
          atomic_file(out) as tmp, av.open(str(tmp), "w") as output):
        vis_stream = _video_stream(vis_file, vis, "visible")
        encoder = output.add_stream(codec, rate=vis_stream.average_rate or 25)
        encoder.width, encoder.height = vis_info.width, vis_info.height
        encoder.pix_fmt = "yuv420p"
        audio = {s.index: output.add_stream_from_template(s) for s in vis_file.streams.audio}
        output.metadata.update(vis_file.metadata)
        encoder.metadata.update(vis_stream.metadata)

        def visible_frames() -> Iterator[np.ndarray]:
            for packet in vis_file.demux(vis_stream, *vis_file.streams.audio):
                if packet.stream.index in audio:
                    if packet.dts is not None:  # None: the demuxer's end-of-stream marker
                        packet.stream = audio[packet.stream.index]
                        output.mux(packet)
                    continue
                for frame in packet.decode():
                    timestamps.append((frame.pts, frame.time_base))
                    yield frame.to_ndarray(format="rgb24")

        infrared = (f.to_ndarray(format="gray") for f in
                    ir_file.decode(_video_stream(ir_file, ir, "infrared")))
        pairs = _aligned(infrared, visible_frames())
        fused_frames = fuser.fuse_stream(pairs, batch_size=batch_size, normalize=normalize,
                                         tile=tile)
        for fused in tqdm(fused_frames, total=vis_info.frames or None, unit="frame",
                          desc="fusing", disable=not progress):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(fused), format="rgb24")
            frame.pts, frame.time_base = timestamps.popleft()
            output.mux(encoder.encode(frame))
            written += 1
        output.mux(encoder.encode(None))  # flush the encoder's delayed frames
    return written


def _check_aligned(ir: VideoInfo, vis: VideoInfo) -> None:
    if (ir.width, ir.height) != (vis.width, vis.height):
        raise InputError(
            f"the infrared video is {ir.width}×{ir.height} and the visible one "
            f"{vis.width}×{vis.height} (W×H): fuse videos of one frame size (register or "
            "resize one of them first)")
    if ir.frames and vis.frames and ir.frames != vis.frames:
        raise InputError(
            f"the infrared video has {ir.frames} frames and the visible one {vis.frames}: "
            "fuse two videos of the same frames (trim one of them first)")


def _aligned(ir: Iterator[np.ndarray], vis: Iterator[np.ndarray]
             ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Frame pairs; an InputError when one video ends before the other (headers without a
    frame count are only found out here; the atomic output then leaves nothing behind)."""
    count = 0
    while True:
        ir_frame, vis_frame = next(ir, None), next(vis, None)
        if ir_frame is None and vis_frame is None:
            return
        if ir_frame is None or vis_frame is None:
            longer = "visible" if ir_frame is None else "infrared"
            raise InputError(f"the {longer} video has more frames than the other, which ends "
                             f"after {count}: fuse two videos of the same frames (trim one "
                             "first)")
        count += 1
        yield ir_frame, vis_frame


def _open(path: str | os.PathLike, role: Role) -> Any:
    """``av.open(path)`` for reading, with an :class:`InputError` naming the file."""
    av = require("av", "video fusion")
    if not Path(path).is_file():
        raise InputError(f"{role} video {os.fspath(path)!r} is not a file: check the path")
    try:
        return av.open(os.fspath(path))
    except (av.error.FFmpegError, OSError) as err:
        raise InputError(f"cannot read {role} video {os.fspath(path)!r}: {err}. Is it a video "
                         "FFmpeg can decode?") from None


def _video_stream(container: Any, path: str | os.PathLike, role: Role) -> Any:
    if not container.streams.video:
        raise InputError(f"{role} file {os.fspath(path)!r} holds no video stream")
    return container.streams.video[0]
