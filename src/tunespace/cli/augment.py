"""``tunespace augment``: apply augmentations to one file (waveform backend) to listen to them."""

from __future__ import annotations

import argparse
import json

NAME = "augment"
HELP = "apply time-stretch, pitch-shift, EQ, low-pass, gain, noise or reverb to an audio file (for listening)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="input audio file")
    parser.add_argument("output", help="output .wav or .flac")
    parser.add_argument("--time-stretch", type=float, metavar="RATE", help="rate, > 1 faster (Rubber Band)")
    parser.add_argument("--pitch-shift", type=float, metavar="SEMITONES", help="semitones (Rubber Band)")
    parser.add_argument("--eq", metavar="FREQ_HZ:GAIN_DB:Q,...", help="peaking filters")
    parser.add_argument("--low-pass", type=float, metavar="CUTOFF_HZ", help="first-order low-pass (6 dB/octave)")
    parser.add_argument("--gain", type=float, metavar="DB", help="gain in dB")
    parser.add_argument("--noise-snr", type=float, metavar="DB", help="add white noise at this SNR (dB)")
    parser.add_argument("--reverb", type=float, metavar="ROOM_SIZE", help="Freeverb room size in [0, 1]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise (default 0)")


def run(args: argparse.Namespace) -> int:
    from ..augment.apply_file import augment_file, parse_eq

    applied = augment_file(
        args.input,
        args.output,
        time_stretch=args.time_stretch,
        pitch_shift=args.pitch_shift,
        eq=parse_eq(args.eq) if args.eq else None,
        low_pass_hz=args.low_pass,
        gain_db=args.gain,
        noise_snr_db=args.noise_snr,
        reverb_room_size=args.reverb,
        seed=args.seed,
    )
    print(json.dumps(applied, sort_keys=True))
    print(f"wrote {args.output}")
    return 0
