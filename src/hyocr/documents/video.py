"""Video subtitles: sample frames with ffmpeg, find where the subtitle changes, read each once.

Pipeline:
1. `ffprobe` gives size and duration; `ffmpeg` streams frames at `fps` (default 4) as raw RGB,
   scaled so the long side is at most 1280 px; frame i stands for time i / fps.
2. The subtitle band (bottom `region` fraction of the frame, default 0.35) of each frame is reduced
   to a small grey thumbnail. Consecutive frames whose thumbnails differ by more than `threshold`
   (mean absolute difference, 0-255 scale) start a new segment. A band with almost no contrast
   (std < `blank_std`) holds no subtitle and is not read.
3. Each non-blank segment is read once, on its middle frame, with the subtitles instruction;
   consecutive segments with the same text are merged (a flicker or a background change under a
   still subtitle does not split a cue), empty answers are dropped.
4. Cues are written as SRT or WebVTT; times are frame times, so they are exact to 1/fps.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hyocr.errors import InputError

__all__ = ["Cue", "VideoInfo", "probe", "iter_frames", "segment_frames", "read_subtitles", "to_srt", "to_vtt"]


@dataclass
class Cue:
    start: float  # seconds
    end: float
    text: str


@dataclass
class VideoInfo:
    width: int
    height: int
    duration: float


def _need(tool: str) -> str:
    exe = shutil.which(tool)
    if not exe:
        raise InputError(f"{tool} is not installed (Debian package 'ffmpeg'); run scripts/dev.sh setup")
    return exe


def probe(path: str | Path) -> VideoInfo:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    cmd = [
        _need("ffprobe"),
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=width,height,duration",
        "-show_entries",
        "format=duration",
        "-of",
        "json",
        str(path),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    try:
        info = json.loads(proc.stdout or "{}")
        stream = info["streams"][0]
        duration = float(stream.get("duration") or info.get("format", {}).get("duration") or 0)
        w, h = int(stream["width"]), int(stream["height"])
    except (KeyError, IndexError, ValueError, json.JSONDecodeError):
        reason = (proc.stderr.strip().splitlines() or ["no video stream"])[-1]
        raise InputError(f"{path}: not a readable video ({reason})") from None
    if duration <= 0 or w <= 0 or h <= 0:
        raise InputError(f"{path}: video has no frames")
    return VideoInfo(w, h, duration)


def iter_frames(path: str | Path, fps: float = 4.0, max_side: int = 1280):
    """Yield (time_seconds, RGB PIL image) at `fps`."""
    info = probe(path)
    scale = min(1.0, max_side / max(info.width, info.height))
    w, h = max(2, int(info.width * scale) // 2 * 2), max(2, int(info.height * scale) // 2 * 2)
    cmd = [
        _need("ffmpeg"),
        "-v",
        "error",
        "-nostdin",
        "-i",
        str(path),
        "-vf",
        f"fps={fps},scale={w}:{h}",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    size = w * h * 3
    i = 0
    try:
        while True:
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            yield i / fps, Image.frombuffer("RGB", (w, h), buf, "raw", "RGB", 0, 1).copy()
            i += 1
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace")
        proc.wait()
    if i == 0:
        raise InputError(f"{path}: no frames could be decoded ({(err.strip().splitlines() or ['?'])[-1]})")


def _band(image: Image.Image, region: float) -> np.ndarray:
    w, h = image.size
    band = (
        image.crop((0, int(h * (1 - region)), w, h)).convert("L").resize((96, 24), Image.Resampling.BILINEAR)
    )
    return np.asarray(band, dtype=np.float32)


def segment_frames(
    frames: list[tuple[float, Image.Image]],
    *,
    region: float = 0.35,
    threshold: float = 0.02,
    blank_std: float = 4.0,
) -> list[tuple[int, int, bool]]:
    """Split frame indices into runs of a stable subtitle band: (first, last_exclusive, blank)."""
    if not frames:
        return []
    bands = [_band(img, region) for _, img in frames]
    blank = [float(b.std()) < blank_std for b in bands]
    segments: list[tuple[int, int, bool]] = []
    start = 0
    for i in range(1, len(bands) + 1):
        if (
            i == len(bands)
            or blank[i] != blank[i - 1]
            or float((np.abs(bands[i] - bands[i - 1]) > 32).mean()) > threshold
        ):
            segments.append((start, i, blank[(start + i - 1) // 2]))
            start = i
    return segments


def read_subtitles(
    path: str | Path,
    read: Callable[[list[Image.Image]], list[str]],
    *,
    fps: float = 4.0,
    region: float = 0.35,
    threshold: float = 0.02,
) -> list[Cue]:
    """Cues of a video; `read(images)` returns the subtitle text of each image (one batch)."""
    info = probe(path)
    frames = list(iter_frames(path, fps=fps))
    segments = [s for s in segment_frames(frames, region=region, threshold=threshold) if not s[2]]
    mids = [frames[(a + b - 1) // 2][1] for a, b, _ in segments]
    texts = read(mids) if mids else []
    cues: list[Cue] = []
    for (a, b, _), text in zip(segments, texts, strict=True):
        text = (
            " ".join(text.split())
            if "\n" not in text.strip()
            else "\n".join(t.strip() for t in text.strip().splitlines() if t.strip())
        )
        if not text:
            continue
        start, end = frames[a][0], (frames[b][0] if b < len(frames) else info.duration)
        if cues and cues[-1].text == text and abs(cues[-1].end - start) < 1.5 / fps:
            cues[-1].end = end
        else:
            cues.append(Cue(round(start, 3), round(end, 3), text))
    return cues


def _ts(t: float, sep: str) -> str:
    ms = int(round(t * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: list[Cue]) -> str:
    return "".join(
        f"{i}\n{_ts(c.start, ',')} --> {_ts(c.end, ',')}\n{c.text}\n\n" for i, c in enumerate(cues, 1)
    )


def to_vtt(cues: list[Cue]) -> str:
    return "WEBVTT\n\n" + "".join(f"{_ts(c.start, '.')} --> {_ts(c.end, '.')}\n{c.text}\n\n" for c in cues)
