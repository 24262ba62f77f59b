"""``tunespace serve`` on the command line: one-line errors (exit 2), and a real server process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tunespace.cli import main


@pytest.mark.parametrize(
    "argv, message",
    [
        (["serve"], "give --index INDEX"),
        (["serve", "--index", "x", "--study", "y"], "give --index INDEX"),
        (["serve", "--study", "y", "--audio", "z"], "--audio and --labels go with --index"),
        (["serve", "--index", "x", "--eval", "e"], "--eval and --baselines go with --study"),
        (["serve", "--index", "x", "--max-upload-mb", "0"], "--max-upload-mb must be > 0"),
        (["serve", "--index", "/nonexistent/idx"], "not an index folder"),
        (["serve", "--study", "/nonexistent/study"], "not a study folder"),
        (["serve", "--index", "x", "--port", "70000"], "--port must be in 1-65535"),
        (["serve", "--index", "x", "--search-threads", "0"], "--search-threads must be at least 1"),
    ],
)
def test_usage_errors_are_one_line_exit_2(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and err.startswith("tunespace serve: error:")


def test_duplicate_index_names_are_refused(index_dirs, capsys):
    assert main(["serve", "--index", str(index_dirs["a"]), "--index", f"a={index_dirs['b']}", "--port", "1"]) == 2
    assert "two indexes are named 'a'" in capsys.readouterr().err


def test_a_busy_port_is_a_one_line_error(index_dirs, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["serve", "--index", str(index_dirs["a"]), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_the_command_serves_until_stopped(index_dirs, dataset, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    opened = tmp_path / "opened.txt"
    # --open: Python's webbrowser runs $BROWSER with the URL in place of %s
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "BROWSER": f"{sys.executable} -c \"import sys; open(sys.argv[1], 'w').write(sys.argv[2])\" {opened} %s",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tunespace",
            "serve",
            "--index",
            f"a={index_dirs['a']}",
            "--audio",
            str(dataset),
            "--labels",
            str(dataset / "labels.csv"),
            "--port",
            str(port),
            "--no-precompute-maps",
            "--map-cache",
            str(tmp_path),
            "--open",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, "".join(lines)
            lines.append(line)
            if "open http://" in line:
                break
        assert f"open http://127.0.0.1:{port}/" in lines[-1]
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=5) as r:
                    info = json.load(r)
                break
            except OSError:
                time.sleep(0.1)
        assert [i["name"] for i in info["indexes"]] == ["a"] and info["has_audio"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/indexes/a/neighbours?id=t00&k=2", timeout=5) as r:
            assert len(json.load(r)["neighbours"]) == 2
        # a loopback server answers only to loopback host names (no DNS rebinding)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/info", headers={"Host": f"evil.example:{port}"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=5)
        assert e.value.code == 400
        for _ in range(100):
            if opened.is_file() and opened.read_text():
                break
            time.sleep(0.1)
        assert opened.read_text() == f"http://127.0.0.1:{port}/"
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/info", headers={"Host": f"localhost:{port}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(20)
