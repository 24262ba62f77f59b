"""The labelled music corpus: rendered MIDI music whose key, tempo, genre, mood and lead
instrument are known exactly (``tunespace corpus build``).

- :mod:`.styles`: label vocabularies and the musical definition of each genre and mood;
- :mod:`.harmony`: scales and chords in a key;
- :mod:`.procedural`: seeded composition of a piece as PrettyMIDI;
- :mod:`.music21_source`: pieces from the corpus shipped with music21, transposed;
- :mod:`.render`: SoundFont rendering (tinysoundfont) to 16 kHz mono, loudness-normalised;
- :mod:`.plan`: how labels are drawn per track; :mod:`.build`: the folder writer;
- :mod:`.summary`: a text summary of a corpus folder.
"""

from .build import build_corpus, plan_tracks, render_track
from .plan import CSV_COLUMNS, SOURCES, TrackSpec
from .summary import read_tracks, summarise

__all__ = [
    "build_corpus",
    "plan_tracks",
    "render_track",
    "summarise",
    "read_tracks",
    "TrackSpec",
    "CSV_COLUMNS",
    "SOURCES",
]
