"""Audio file input and output: decode any supported file to float32 mono at a chosen rate.

Decoding is done by libsndfile (through :mod:`soundfile`); the libsndfile bundled with
soundfile >= 0.12 reads WAV, FLAC, OGG/Vorbis, OGG/Opus and MP3, integer and float samples,
any channel count and rate. Resampling is done by :func:`soxr.resample` (quality ``"HQ"``),
only when the file's rate differs from the requested one. Channels are mixed down by their
mean. Written by hand here: only the window arithmetic and the error classification.

Windows (``offset_s``, ``duration_s``) are read by seeking, so a 3 s window of a two-hour
file decodes about 3 s of audio, with two exceptions, documented because they matter:

- **MP3**: the bundled libsndfile (1.2.x, mpg123 back end) returns wrong samples (zero runs,
  shifted blocks) after a seek and on every read call but the first. MP3 windows are
  therefore decoded with a single read from the start of the file up to the end of the
  window, then sliced: exact, but the cost grows with ``offset_s``. The frame count that
  libsndfile reports for an MP3 (:func:`info`) comes from the Xing/INFO header and can be an
  estimate; :func:`load` trusts only what it decodes.
- **Vorbis/Opus** seek exactly in libsndfile (checked against a full decode in the tests).

When resampling a window, up to about 50 ms of context on each side (where the file has it)
is resampled with the window and cut off afterwards, so a window equals the same stretch of
the fully loaded, resampled file (to float rounding) instead of carrying filter edge effects.

Quiet: the mpg123 decoder inside libsndfile prints its own warnings about a damaged MP3
("Xing stream size off by more than 1%...") straight to the process's standard error, once
per open. While an MP3 is opened and decoded, file descriptor 2 is therefore pointed at
``/dev/null`` (serialised by a lock; output that another thread of the same process writes to
stderr in those milliseconds is lost too), so that the only word about a bad file is
tunespace's own: its ``AudioError`` (one line, or one row of ``errors.csv``).

Windows are exact: ``load(p, sr, offset_s, duration_s)`` returns exactly
``round(duration_s * sr)`` samples or raises ``AudioError(path, "too short ...")``; it never
pads. Silence is valid audio. Every expected failure is an :class:`~tunespace.errors.AudioError`
whose ``reason`` starts with one of :data:`REASONS`.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioError, UsageError
from .files import atomic_path

#: The reason prefixes of :class:`AudioError` raised here (``err.reason.startswith(...)``).
REASONS: tuple[str, ...] = (
    "missing",
    "empty (0 bytes)",
    "truncated or corrupt",
    "unsupported format",
    "no samples",
    "non-finite samples",
    "too short",
    "not readable",
)

#: File extensions libsndfile is expected to decode; a file with one of these that does not
#: open is reported as "truncated or corrupt", any other as "unsupported format".
AUDIO_EXTENSIONS: tuple[str, ...] = (
    ".wav",
    ".wave",
    ".flac",
    ".ogg",
    ".oga",
    ".opus",
    ".mp3",
    ".aif",
    ".aiff",
    ".aifc",
    ".caf",
    ".w64",
    ".rf64",
)

#: Resampling quality passed to soxr.
RESAMPLE_QUALITY = "HQ"
#: Minimum context (input frames) resampled on each side of a window, then discarded.
_CONTEXT_FRAMES = 2048
#: MP3 decoders may report a frame count that differs from what decodes; a shortfall larger
#: than this fraction (and than two MPEG frames) of the header count means a truncated file.
_MP3_LENGTH_TOLERANCE = 0.01
_MP3_FRAME = 1152


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, read without decoding.

    Attributes:
        sample_rate: samples per second per channel (Hz).
        channels: number of channels.
        frames: samples per channel (for MP3, libsndfile's header-based estimate).
        duration_s: ``frames / sample_rate`` in seconds.
        format: container, as libsndfile names it (``"WAV"``, ``"FLAC"``, ``"OGG"``, ``"MP3"``...).
        subtype: sample encoding (``"PCM_16"``, ``"FLOAT"``, ``"VORBIS"``, ``"OPUS"``...).
    """

    sample_rate: int
    channels: int
    frames: int
    duration_s: float
    format: str
    subtype: str = ""


def info(path: str | Path) -> AudioInfo:
    """Header information of an audio file, without decoding its samples.

    Args:
        path: audio file (WAV, FLAC, OGG/Vorbis, Opus, MP3, ...).
    Returns:
        An :class:`AudioInfo`.
    Raises:
        AudioError: missing, empty, unsupported or corrupt file.
    """
    path = Path(path)
    _check_file(path)
    try:
        with _quiet_if_mp3(path):
            i = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise _open_error(path, e) from None
    return AudioInfo(
        sample_rate=int(i.samplerate),
        channels=int(i.channels),
        frames=int(i.frames),
        duration_s=float(i.frames) / float(i.samplerate) if i.samplerate else 0.0,
        format=str(i.format),
        subtype=str(i.subtype),
    )


def load(
    path: str | Path,
    sr: int = 16000,
    offset_s: float = 0.0,
    duration_s: float | None = None,
    *,
    min_duration_s: float | None = None,
) -> np.ndarray:
    """Decode an audio file (or a window of it) to float32 mono at ``sr``.

    Args:
        path: audio file (WAV, FLAC, OGG/Vorbis, Opus, MP3; integer or float samples; any
            channel count; any rate).
        sr: output sample rate in Hz.
        offset_s: start of the window in seconds from the start of the file (>= 0).
        duration_s: length of the window in seconds (> 0), or None for "to the end of the file".
        min_duration_s: if given, raise "too short" when the returned audio would be shorter
            than this many seconds.
    Returns:
        ``np.float32`` array of shape ``(samples,)``: the channel mean, in [-1, 1] for
        integer files, resampled to ``sr`` if the file's rate differs. With ``duration_s`` it
        has exactly ``round(duration_s * sr)`` samples.
    Raises:
        AudioError: reason starting with one of :data:`REASONS` (missing, empty, truncated or
            corrupt, unsupported format, no samples, non-finite samples, too short). A window
            that does not fit inside the file is "too short"; it is never padded.
        UsageError: ``sr``, ``offset_s`` or ``duration_s`` out of range.
    """
    if sr <= 0:
        raise UsageError(f"sr must be a positive sample rate in Hz, got {sr}")
    if offset_s < 0 or not math.isfinite(offset_s):
        raise UsageError(f"offset_s must be a finite number >= 0, got {offset_s}")
    if duration_s is not None and (duration_s <= 0 or not math.isfinite(duration_s)):
        raise UsageError(f"duration_s must be a finite number > 0, got {duration_s}")
    path = Path(path)
    _check_file(path)
    with _quiet_if_mp3(path):
        return _load(path, sr, offset_s, duration_s, min_duration_s)


def _load(path: Path, sr: int, offset_s: float, duration_s: float | None, min_duration_s: float | None) -> np.ndarray:
    try:
        f = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as e:
        raise _open_error(path, e) from None
    with f:
        file_sr = int(f.samplerate)
        header_frames = int(f.frames)
        is_mp3 = f.format == "MP3"
        if header_frames <= 0:
            raise AudioError(path, "no samples (the file holds 0 frames)")

        start = int(round(offset_s * file_sr))
        if duration_s is None:
            out_len = None
            stop = header_frames
        else:
            out_len = int(round(duration_s * sr))
            if out_len <= 0:
                raise UsageError(f"duration_s={duration_s} gives 0 samples at {sr} Hz")
            stop = start + int(math.ceil(out_len * file_sr / sr))
        if start >= header_frames or (out_len is not None and stop > header_frames and not is_mp3):
            raise _too_short(path, offset_s, duration_s, header_frames, file_sr)

        # Context on each side for resampling: k whole resampling periods (unit_in input
        # frames = unit_out output samples), so that the cut falls on an output sample.
        ctx_in = unit_in = unit_out = 0
        if file_sr != sr:
            g = math.gcd(file_sr, sr)
            unit_in, unit_out = file_sr // g, sr // g
            if unit_in <= file_sr // 10:  # else (odd rate pairs) no context: edges resampled alone
                ctx_in = -(-_CONTEXT_FRAMES // unit_in) * unit_in
        k_left = min(ctx_in, start) // unit_in if ctx_in else 0
        read_start = start - k_left * unit_in
        read_stop = stop + ctx_in

        if is_mp3:
            x = _read_mp3_prefix(path, f, read_stop, header_frames)[read_start:]
            available = read_start + len(x)
            if start >= available or (out_len is not None and available < stop):
                raise _too_short(path, offset_s, duration_s, available, file_sr)
        else:
            read_stop = min(read_stop, header_frames)
            x = _read_frames(path, f, read_start, read_stop - read_start)

    if not np.all(np.isfinite(x)):
        raise AudioError(path, "non-finite samples (NaN or inf in the file)")
    mono = x.mean(axis=1, dtype=np.float32) if x.shape[1] > 1 else x[:, 0]

    if file_sr != sr:
        y = soxr.resample(mono, file_sr, sr, quality=RESAMPLE_QUALITY)[k_left * unit_out :]
        if out_len is not None:
            y = y[:out_len]
            short = out_len - len(y)
            if 0 < short <= 2:  # resampler rounding where the window ends at the end of the file
                y = np.concatenate([y, np.repeat(y[-1:], short)])
            elif short > 2:
                raise _too_short(path, offset_s, duration_s, read_start + len(mono), file_sr)
    else:
        y = mono[:out_len] if out_len is not None else mono
    y = np.ascontiguousarray(y, dtype=np.float32)
    if len(y) == 0:
        raise AudioError(path, "no samples (nothing decoded)")
    if min_duration_s is not None and len(y) < int(round(min_duration_s * sr)):
        raise AudioError(
            path, f"too short: {len(y) / sr:.3f} s from offset {offset_s} s, need at least {min_duration_s} s"
        )
    return y


def save(path: str | Path, audio: np.ndarray, sr: int, *, subtype: str | None = None) -> None:
    """Write audio atomically as FLAC or WAV (chosen by the extension of ``path``).

    Args:
        path: destination ending in ``.flac`` or ``.wav``.
        audio: float samples, shape ``(samples,)`` or ``(samples, channels)``, nominally in [-1, 1].
        sr: sample rate in Hz.
        subtype: libsndfile subtype; default ``"PCM_24"`` for FLAC, ``"FLOAT"`` for WAV.
    Raises:
        UsageError: unknown extension, bad shape or rate.
        AudioError: non-finite samples, or samples outside [-1, 1] for an integer subtype
            (they would clip).
    """
    path = Path(path)
    fmt = {".flac": "FLAC", ".wav": "WAV"}.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(f"{path}: can only save .flac or .wav, not {path.suffix or 'no extension'!r}")
    if sr <= 0:
        raise UsageError(f"{path}: sr must be a positive sample rate in Hz, got {sr}")
    a = np.asarray(audio)
    if a.ndim not in (1, 2) or a.shape[0] == 0:
        raise UsageError(f"{path}: audio must have shape (samples,) or (samples, channels), got {a.shape}")
    a = a.astype(np.float32, copy=False)
    if not np.all(np.isfinite(a)):
        raise AudioError(path, "non-finite samples (NaN or inf), not written")
    subtype = subtype or ("PCM_24" if fmt == "FLAC" else "FLOAT")
    if subtype.startswith("PCM") and a.size and float(np.max(np.abs(a))) > 1.0:
        raise AudioError(path, f"samples outside [-1, 1] (peak {float(np.max(np.abs(a))):.3f}) would clip in {subtype}")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), a, int(sr), format=fmt, subtype=subtype)


# --------------------------------------------------------------------------- internals


def _check_file(path: Path) -> None:
    try:
        if not path.exists():
            raise AudioError(path, "missing")
        if not path.is_file():
            raise AudioError(path, "missing (not a regular file)")
        if path.stat().st_size == 0:
            raise AudioError(path, "empty (0 bytes)")
        with open(path, "rb"):
            pass
    except OSError as e:
        raise AudioError(path, f"not readable ({e.strerror or type(e).__name__})") from None


_STDERR_LOCK = threading.Lock()


def _looks_like_mp3(path: Path) -> bool:
    """By extension, or by content (an ID3 tag or an MPEG frame sync at the start)."""
    if path.suffix.lower() == ".mp3":
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(3)
    except OSError:
        return False
    return head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


@contextlib.contextmanager
def _quiet_if_mp3(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at /dev/null while an MP3 is decoded (see the module docstring)."""
    if not _looks_like_mp3(path):
        yield
        return
    with _STDERR_LOCK:
        try:
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        try:
            saved = os.dup(2)
        except OSError:  # no stderr at all: nothing to protect
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


def _open_error(path: Path, e: Exception) -> AudioError:
    detail = str(e).splitlines()[0] if str(e) else type(e).__name__
    detail = detail.replace(f"Error opening {str(path)!r}: ", "")
    if "does not exist" in detail:  # libsndfile's message for unrecognised content
        detail = "format not recognised"
    if path.suffix.lower() in AUDIO_EXTENSIONS:
        return AudioError(path, f"truncated or corrupt: not a readable {path.suffix} file ({detail})")
    return AudioError(path, f"unsupported format: libsndfile cannot read it ({detail})")


def _too_short(path: Path, offset_s: float, duration_s: float | None, frames: int, file_sr: int) -> AudioError:
    length = frames / file_sr
    want = f"{offset_s}-{offset_s + duration_s} s" if duration_s is not None else f"from {offset_s} s"
    return AudioError(path, f"too short: window {want} does not fit in {length:.3f} s of audio")


def _read_frames(path: Path, f: sf.SoundFile, start: int, n: int) -> np.ndarray:
    """Seek to ``start`` and read ``n`` frames in one call; shape ``(n, channels)``."""
    try:
        if start:
            f.seek(start)
        x = f.read(n, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(path, f"truncated or corrupt ({str(e).splitlines()[0]})") from None
    if len(x) < n:
        raise AudioError(path, f"truncated or corrupt: header says {f.frames} frames, only {start + len(x)} decode")
    return x


def _read_mp3_prefix(path: Path, f: sf.SoundFile, stop: int, header_frames: int) -> np.ndarray:
    """The first ``stop`` frames of an MP3 (fewer if it ends sooner), in a single read call."""
    try:
        x = f.read(stop, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError) as e:
        raise AudioError(path, f"truncated or corrupt ({str(e).splitlines()[0]})") from None
    want = min(stop, header_frames)
    slack = max(int(_MP3_LENGTH_TOLERANCE * header_frames), 2 * _MP3_FRAME)
    if len(x) < want - slack:
        raise AudioError(path, f"truncated or corrupt: header says {header_frames} frames, only {len(x)} decode")
    return x
