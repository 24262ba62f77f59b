"""Every command: ``--help`` works, and a usage error is one line on stderr with exit status 2."""

from __future__ import annotations

import pkgutil

import pytest

import tunespace.cli as cli
from tunespace.cli import main

COMMANDS = sorted(m.name for m in pkgutil.iter_modules(cli.__path__) if not m.name.startswith("_"))


def test_every_command_module_is_listed():
    assert {"embed", "index", "neighbours", "train", "study", "locality", "evaluate", "pretrained"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tunespace ") and command in out.splitlines()[0]


#: One wrong use of each command and a word its one-line error must contain.
USAGE_ERRORS = {
    "augment": (["{tmp}/missing.wav", "{tmp}/out.wav", "--pitch-shift", "2"], "missing"),
    "baseline": (["--out", "{tmp}/b"], "--kind"),
    "corpus": (["build", "--out", "{tmp}/c", "--tracks", "0"], "tracks"),
    "datasets": (["show", "{tmp}/nothing"], "nothing"),
    "embed": (["--model", "{tmp}/norun", "--data", "{tmp}", "--out", "{tmp}/e"], "norun"),
    "evaluate": (["--embeddings", "{tmp}/noemb", "--labels", "{tmp}/l.csv", "--out", "{tmp}/o"], "not found"),
    "index": (["build", "--embeddings", "{tmp}/noemb", "--out", "{tmp}/i"], "noemb"),
    "locality": (["--embeddings", "{tmp}/noemb", "--labels", "{tmp}/l.csv", "--out", "{tmp}/o", "--k", "x"], "--k"),
    "neighbours": (["{tmp}/noindex", "--track", "a"], "not an index folder"),
    "pretrained": (["build", "--out", "{tmp}/p", "--steps", "0"], "--steps"),
    "serve": (["--index", "{tmp}/noindex"], "noindex"),
    "study": (["--preset", "nope", "--out", "{tmp}/s"], "nope"),
    "train": (["--data", "{tmp}/nothing", "--out", "{tmp}/r"], "nothing"),
}


@pytest.mark.parametrize("command", [c for c in COMMANDS if c in USAGE_ERRORS])
def test_usage_error_is_one_line_with_status_2(command, tmp_path, capsys):
    args, word = USAGE_ERRORS[command]
    rc = main([command, *[a.format(tmp=tmp_path) for a in args]])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(f"tunespace {command}: error:"), err
    assert word in err, err


def test_every_command_has_a_usage_error_case():
    assert set(COMMANDS) - set(USAGE_ERRORS) <= {"version"}


def test_parse_errors_are_one_line_too(capsys):
    assert main(["embed", "--model"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "expected one argument" in err and "--help" in err
    assert main(["nope"]) == 2
    assert "invalid choice" in capsys.readouterr().err
