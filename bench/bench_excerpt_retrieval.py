"""Excerpt-to-source retrieval under transformations (results: docs/models.md, docs/benchmarks.md).

What a search user feels: cut a 10 s excerpt of every catalogue track, transform it, and ask
whether the nearest catalogue track is its source. Three kinds of transformation:

- tools other than tunespace's training augmentation, on the excerpt's audio: librosa's
  phase-vocoder time-stretch and pitch-shift, Rubber Band (through pedalboard, tunespace's
  waveform backend), and a scipy peaking EQ;
- the training augmentation itself (``spectral:`` columns): the pretrained models were trained
  with the ``spectral`` backend, which resamples the linear power spectrogram
  (:func:`tunespace.augment.spectral.functional.time_stretch` and ``pitch_shift``) and weights
  its bins (``eq``, the ``ts+ps+eq`` model's third augmentation) and reverberates it (``reverb``,
  ``ts+ps+eq+rev``'s fourth: :func:`tunespace.augment.spectral.functional.reverb`). It has no
  audio output, so these excerpts are embedded from the transformed spectrogram: the power
  spectrogram of the whole track, resampled over the excerpt's frames (a time-stretch reads real
  frames beyond the excerpt's edges, as a training window reads its track's cached frames), cut
  into the model's slices, then mel bands, compression, standardisation and the encoder, and the
  slices averaged. ``spectral: unmodified`` is the same path with no transformation: the control
  for the path itself (its slices are cut from one spectrogram instead of being framed one by
  one). Models only (MFCC needs audio).
- what a recording chain does and no model was trained to ignore (:data:`RECORDING_CHAIN`,
  ``--recording-chain`` for these alone): MP3 coding, background noise, reverberation, a
  low-pass; how far the augmentations' invariances carry to real catalogues' differences.

Where the dataset has a ``piece`` column (music21 corpora: several renders of one composition,
with other instruments, tempi and keys), a second table counts a hit when the nearest track is a
render of the source's piece: a model told to ignore tempo and key may rightly find another
render of the same piece.

Catalogue vectors: each model's track embedding (mean over its loud 3 s slices, as ``tunespace embed``);
two search modes: ``track`` (the excerpt's embedding against track embeddings) and ``slices``
(the excerpt's embedding against every slice embedding of the catalogue, the track of the best
slice wins: the slice index of ``tunespace index build --slices``, searched by
:func:`tunespace.passages.search_passages`; for the transformations that keep the excerpt's
duration, a last table gives how often the found source's span, from
:func:`tunespace.passages.locate`, starts where the excerpt was cut). Reference: the MFCC
mean+std vector (z-scored with the catalogue's statistics), the hand-crafted feature a trained
model should beat.

Run: .venv/bin/python bench/bench_excerpt_retrieval.py --data DATASET --models pretrained:none pretrained:ts ...
     [--excerpt-seconds 10] [--start-seconds 8] [--spectral-only | --recording-chain]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

#: Transformations that keep an excerpt's duration, so its place in the track is still known.
LOCATED = ("unmodified", "Rubber Band shift +2", "EQ +9 dB at 1 kHz")
#: The training augmentation's own transformations: name -> (kind, value), applied to the power spectrogram.
SPECTRAL = {
    "spectral: unmodified": ("none", 0.0),
    "spectral: stretch x1.15": ("stretch", 1.15),
    "spectral: shift +2": ("shift", 2.0),
    "spectral: EQ": ("eq", 0.0),
    "spectral: reverb": ("reverb", 0.5),
}
#: The ``spectral: reverb`` column's wet level (room size 0.5: T60 1.3 s), inside the ``reverb``
#: augmentation's default ranges and near pedalboard's default (0.33) of the recording chain.
SPECTRAL_REVERB_WET = 0.33
#: The ``spectral: EQ`` column's setting, inside the ``eq`` augmentation's default ranges: a +9 dB
#: peak at 1 kHz (Q 1, as the scipy EQ column), a -6 dB low shelf at 200 Hz, a +6 dB high shelf at 3 kHz.
SPECTRAL_EQ = {
    "peak_freq_hz": [1000.0],
    "peak_gain_db": [9.0],
    "peak_q": [1.0],
    "low_shelf_freq_hz": 200.0,
    "low_shelf_gain_db": -6.0,
    "high_shelf_freq_hz": 3000.0,
    "high_shelf_gain_db": 6.0,
}


def spectral_excerpt(model, y: np.ndarray, a: int, b: int, kind: str, value: float) -> np.ndarray:
    """``(D,)`` embedding of the excerpt ``y[a:b]`` (samples at the model's rate) transformed by the
    spectral backend's ``kind`` (``none``, ``stretch`` by rate ``value``, ``shift`` by ``value``
    semitones, ``eq``: :data:`SPECTRAL_EQ`, ``reverb`` of room size ``value`` at
    :data:`SPECTRAL_REVERB_WET`: the ``ts+ps+eq+rev`` model's fourth) on the power spectrogram
    of the whole track ``y``; see the module docstring."""
    import torch

    from tunespace.augment.spectral import functional as spectral
    from tunespace.features import standardise

    fe = model.frontend
    hop = fe.config.hop_length
    power = fe.power(torch.as_tensor(y, dtype=torch.float32)[None])  # (1, F, T)
    f0, f1 = a // hop, b // hop
    frames = torch.arange(f0, f1, dtype=torch.float32)
    if kind == "stretch":  # centre of the excerpt fixed, as the training windows' centres are
        centre = (f0 + f1 - 1) / 2.0
        power = spectral.resample_axis(power, (centre + (frames - centre) * value)[None], 2)
    else:
        power = power[..., f0:f1]
        if kind == "shift":
            power = spectral.pitch_shift(power, value)
        elif kind == "eq":
            power = spectral.eq(
                power,
                **SPECTRAL_EQ,
                sample_rate=fe.config.sample_rate,
                n_fft=fe.config.n_fft,
                magnitude_power=fe.config.power,
            )
        elif kind == "reverb":  # on the excerpt alone, as training applies it (needs frontend.power 2)
            from tunespace.augment.spectral import Reverb

            power = Reverb(fe.config).transform(power, {"room_size": value, "wet_level": SPECTRAL_REVERB_WET})
    n = fe.frames(model.slice_samples)
    step = int(round(model.hop_seconds * model.sample_rate)) // hop
    x = torch.stack([power[0, :, s : s + n] for s in range(0, power.shape[-1] - n + 1, step)])
    with torch.inference_mode():
        e = model.encoder(standardise(fe.compress(fe.mel(x))).unsqueeze(1)).float().numpy()
    return e.mean(axis=0)


def _transforms(sr: int) -> dict:
    import librosa
    from scipy import signal

    def eq(y: np.ndarray) -> np.ndarray:  # +9 dB peak at 1 kHz, Q 1 (RBJ cookbook), then -6 dB high shelf region
        b, a = signal.iirpeak(1000.0, 1.0, fs=sr)
        return (y + 1.8 * signal.lfilter(b, a, y)).astype(np.float32)

    from tunespace.augment.waveform import functional as rubberband

    return {
        "unmodified": lambda y: y,
        "time-stretch x1.15": lambda y: librosa.effects.time_stretch(y, rate=1.15),
        "time-stretch x0.87": lambda y: librosa.effects.time_stretch(y, rate=0.87),
        "pitch-shift +2": lambda y: librosa.effects.pitch_shift(y, sr=sr, n_steps=2),
        "pitch-shift -3": lambda y: librosa.effects.pitch_shift(y, sr=sr, n_steps=-3),
        "Rubber Band stretch x1.15": lambda y: rubberband.time_stretch(y, 1.15, sr, keep_length=False),
        "Rubber Band shift +2": lambda y: rubberband.pitch_shift(y, 2.0, sr),
        "EQ +9 dB at 1 kHz": eq,
    }


#: What a recording chain does to a catalogue's audio (``--recording-chain``), none of it a training augmentation.
RECORDING_CHAIN = ("MP3 56 kbps", "noise 20 dB SNR", "reverb", "low-pass 4 kHz")


def _recording_chain(sr: int) -> dict:
    """The :data:`RECORDING_CHAIN` transformations of an excerpt at ``sr`` Hz: MP3 through libsndfile
    (LAME) at 44.1 kHz, constant bitrate, ``compression_level`` 0.9 (56 kbps, measured on white
    noise), decoded and resampled back; white noise 20 dB below the excerpt's RMS (seeded by the
    excerpt's samples); pedalboard's ``Reverb`` at its defaults (room size 0.5, wet 0.33, dry 0.4);
    an 8th-order Butterworth low-pass at 4 kHz."""
    import io
    import zlib

    import pedalboard
    import soundfile as sf
    import soxr
    from scipy import signal

    def mp3(y: np.ndarray) -> np.ndarray:
        buf = io.BytesIO()
        sf.write(buf, soxr.resample(y, sr, 44100), 44100, format="MP3", compression_level=0.9, bitrate_mode="CONSTANT")
        buf.seek(0)
        return soxr.resample(sf.read(buf, dtype="float32")[0], 44100, sr).astype(np.float32)

    def noise(y: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(y.tobytes()))
        rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
        return (y + rms * 10 ** (-20 / 20) * rng.standard_normal(y.size)).astype(np.float32)

    sos = signal.butter(8, 4000.0, fs=sr, output="sos")
    return {
        "MP3 56 kbps": mp3,
        "noise 20 dB SNR": noise,
        "reverb": lambda y: pedalboard.Reverb()(y[None, :], sr)[0].astype(np.float32),
        "low-pass 4 kHz": lambda y: signal.sosfilt(sos, y).astype(np.float32),
    }


def main() -> None:
    import tunespace
    from tunespace.audio import load
    from tunespace.baselines import track_features
    from tunespace.datasets import open_dataset
    from tunespace.embed.model import track_embedding
    from tunespace.passages import locate, search_passages, slice_provenance, slice_set_of
    from tunespace.pretrained.recipe import track_pieces

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--excerpt-seconds", type=float, default=10.0)
    ap.add_argument("--start-seconds", type=float, default=8.0)
    ap.add_argument(
        "--spectral-only",
        action="store_true",
        help="only the unmodified excerpt and the training augmentation (spectral:) columns: minutes, not an hour",
    )
    ap.add_argument(
        "--recording-chain",
        action="store_true",
        help="only the unmodified excerpt and the recording-chain columns (MP3, noise, reverb, low-pass)",
    )
    args = ap.parse_args()
    ds = open_dataset(args.data)
    sr = 16000
    piece = track_pieces(Path(args.data))
    audio = {t.id: load(t.path, sr=sr) for t in ds.tracks}
    ids = list(audio)
    a, b = int(args.start_seconds * sr), int((args.start_seconds + args.excerpt_seconds) * sr)
    excerpts = {i: x[a:b] for i, x in audio.items()}
    tf = {**_transforms(sr), **_recording_chain(sr)}
    if args.spectral_only or args.recording_chain:
        tf = {"unmodified": tf["unmodified"], **({k: tf[k] for k in RECORDING_CHAIN} if args.recording_chain else {})}
    spectral = {} if args.recording_chain and not args.spectral_only else SPECTRAL
    t0 = time.perf_counter()
    queries = {name: {i: f(e) for i, e in excerpts.items()} for name, f in tf.items()}
    print(
        f"{len(ids)} tracks of {args.data}; {args.excerpt_seconds:g} s excerpts from {args.start_seconds:g} s; "
        f"transformed in {time.perf_counter() - t0:.0f} s"
    )
    results: dict[str, dict[str, float]] = {}
    located: dict[str, dict[str, float]] = {}
    same_piece: dict[str, dict[str, float]] = {}
    truth = np.arange(len(ids))
    group = np.array([piece.get(i, i) for i in ids]) if piece else None

    def score(name: str, table: str, found: np.ndarray) -> None:
        """Record the hit rates of ``found`` (each query's nearest catalogue index) under row ``table``."""
        results.setdefault(table, {})[name] = float(np.mean(found == truth))
        if group is not None:
            same_piece.setdefault(table, {})[name] = float(np.mean(group[found] == group))

    # reference: MFCC mean + std, z-scored with the catalogue's statistics
    cat = np.stack([track_features("mfcc", audio[i], sr) for i in ids])
    mu, sd = cat.mean(0), cat.std(0) + 1e-8
    cat_n = (cat - mu) / sd
    cat_n /= np.linalg.norm(cat_n, axis=1, keepdims=True)
    for name, q in queries.items():
        qv = np.stack([(track_features("mfcc", q[i], sr) - mu) / sd for i in ids])
        qv /= np.linalg.norm(qv, axis=1, keepdims=True)
        score(name, "MFCC mean+std (reference)", np.argmax(qv @ cat_n.T, axis=1))

    for spec in args.models:
        model = tunespace.load_model(spec)
        tls = [model.timeline(audio[i], sr) for i in ids]
        track = np.stack([track_embedding(tl.embeddings, tl.loud) for tl in tls])
        track /= np.linalg.norm(track, axis=1, keepdims=True)
        meta = {"slice_seconds": model.slice_seconds, "hop_seconds": model.hop_seconds, "silence_db": model.silence_db}
        slices = slice_set_of(ids, [tl.embeddings for tl in tls], [tl.loud for tl in tls], meta)
        slice_index = tunespace.Index.build(slices, provenance=slice_provenance(slices.meta))
        row = {i: n for n, i in enumerate(ids)}
        spectral_queries = {
            name: np.stack([spectral_excerpt(model, audio[i], a, b, kind, value) for i in ids])
            for name, (kind, value) in spectral.items()
        }
        for name, q in {**queries, **spectral_queries}.items():
            # each excerpt embedded once
            qv = q if name in spectral else model.embed_batch([q[i] for i in ids], sr)
            qv /= np.linalg.norm(qv, axis=1, keepdims=True)
            score(name, f"{spec} (track index)", np.argmax(qv @ track.T, axis=1))
            found = search_passages(slice_index, qv, k=1)
            score(name, f"{spec} (slices index)", np.array([row[p[0].id] for p in found]))
            if name in LOCATED:  # duration kept: the excerpt still starts at --start-seconds
                placed = [locate(slice_index, f, model.timeline(q[i], sr).embeddings)[0] for f, i in zip(found, ids)]
                right = [p.start_s == args.start_seconds for p, i in zip(placed, ids) if p.id == i]
                located.setdefault(spec, {})[name] = float(np.mean(right)) if right else float("nan")

    _print_table("nearest track is the source", results, list(tf))
    if spectral:
        _print_table("nearest track is the source, training augmentation (models only)", results, list(spectral))
    if group is not None:
        _print_table(
            f"nearest track is a render of the source's piece ({len(set(group))} pieces)",
            same_piece,
            list(tf) + list(spectral),
        )
    _print_table(
        f"slices index: sources found whose span starts where the excerpt was cut ({args.start_seconds:g} s), "
        "by aligning the excerpt's slices (tunespace.passages.locate)",
        located,
        [n for n in LOCATED if n in tf],
    )
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


def _print_table(title: str, results: dict[str, dict[str, float]], names: list[str]) -> None:
    print(f"\n{title}\n\n| embedding | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for emb, row in results.items():
        if all(n in row for n in names):
            print(f"| {emb} | " + " | ".join(f"{row[n]:.2f}" for n in names) + " |")


if __name__ == "__main__":
    main()
