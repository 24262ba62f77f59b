"""What a training run records besides its checkpoints (written by hand).

:class:`RunLog` owns, in the run folder:

- ``metrics.jsonl``: one JSON object per logged step (step, loss, lr, pairs_per_s, alignment,
  uniformity, skipped), appended and flushed line by line;
- ``tb/``: the same scalars for TensorBoard (when tensorboard can be imported);
- ``views.jsonl``: optional, each step's augmentation parameters of both views;
- ``skipped.csv``: the tracks left out, ``file,reason,count`` (count: failed reads during
  training; 0 for a track left out before training), rewritten atomically;
- the progress bar.

Only the main process (rank 0) writes files; every process counts its own failed reads. On
resumption from step ``s`` the logs are cut back to step ``s`` (atomically: a rewritten log is
written under a temporary name and renamed) and TensorBoard events after ``s`` are purged, so
the steps replayed after a kill are logged once.
"""

from __future__ import annotations

import csv
import io
import json
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..augment.pipeline import params_to_json
from ..files import write_text
from ..progress import progress_bar


class RunLog:
    """The logs of one training run, opened at ``start_step``.

    Args:
        out: run folder.
        start_step: the step training starts from (0, or the resumed checkpoint's).
        total_steps: the run's ``train.steps`` (the progress bar's length).
        main: whether this process writes the files (rank 0).
        resume: read the counts of an earlier ``skipped.csv`` of this run.
        skipped_before: tracks left out before training (path -> reason; count 0 unless an
            earlier part of the run counted failed reads of them).
        log_views: write ``views.jsonl``.
        progress: show a progress bar (on the main process).
    """

    def __init__(
        self,
        out: Path,
        *,
        start_step: int,
        total_steps: int,
        main: bool,
        resume: bool,
        skipped_before: dict[str, str],
        log_views: bool = False,
        progress: bool = True,
    ) -> None:
        self.out = out
        self.main = main
        if main:
            truncate_log(out / "metrics.jsonl", lambda r: r.get("step", 0) <= start_step)
            truncate_log(out / "views.jsonl", lambda r: r.get("step", 0) < start_step)
        #: path -> (reason, failed reads during training)
        self.skipped: dict[str, tuple[str, int]] = read_skipped(out) if resume else {}
        for path, reason in skipped_before.items():
            self.skipped[path] = (reason, self.skipped.get(path, (reason, 0))[1])
        self._writer = tb_writer(out, purge_step=start_step + 1) if main else None
        self._metrics = open(out / "metrics.jsonl", "a", encoding="utf-8") if main else None
        self._views = open(out / "views.jsonl", "a", encoding="utf-8") if (main and log_views) else None
        self._bar = progress_bar(total_steps, start_step, "train", "step", main and progress)
        self._t_last, self._pairs_since = time.perf_counter(), 0
        self.last_logged = start_step

    def failed_reads(self, errors: list[tuple[str, str]]) -> None:
        """Count a batch's failed reads (``(path, reason)`` pairs)."""
        for path, reason in errors:
            self.skipped[path] = (reason, self.skipped.get(path, (reason, 0))[1] + 1)

    def pairs_done(self, n: int) -> None:
        """Count ``n`` pairs trained on (all processes together) for ``pairs_per_s``."""
        self._pairs_since += n

    def views(self, step: int, index: list[int], cpu_params: Any, device_params: Any) -> None:
        """Append the views of 0-based ``step`` to ``views.jsonl`` (if it is written)."""
        if self._views is not None:
            rec = {
                "step": step,
                "index": index,
                "cpu": params_to_json(cpu_params),
                "device": params_to_json(device_params),
            }
            self._views.write(json.dumps(rec) + "\n")

    def metrics(self, step: int, loss: float, lr: float, geometry: Callable[[], dict[str, float]]) -> None:
        """Log completed ``step`` (1-based): ``pairs_per_s`` since the last logged step, the
        ``geometry()`` entries (alignment, uniformity; computed only on the main process) and the
        number of skipped tracks, to ``metrics.jsonl``, TensorBoard and the progress bar."""
        self.last_logged = step
        if not self.main:
            return
        now = time.perf_counter()
        rec = {"step": step, "loss": loss, "lr": lr, "pairs_per_s": self._pairs_since / max(1e-9, now - self._t_last)}
        rec.update(geometry())
        rec["skipped"] = len(self.skipped)
        self._t_last, self._pairs_since = now, 0
        self._metrics.write(json.dumps(rec) + "\n")
        self._metrics.flush()
        if self._writer is not None:
            for k, v in rec.items():
                if k != "step":
                    self._writer.add_scalar(f"train/{k}", v, step)
        self._bar.set_postfix(loss=f"{loss:.3f}", pairs_s=f"{rec['pairs_per_s']:.1f}")

    def advance(self) -> None:
        """One more step on the progress bar."""
        self._bar.update(1)

    def write_skipped(self) -> None:
        """Rewrite ``skipped.csv`` (main process only)."""
        if self.main:
            write_skipped(self.out, self.skipped)

    def reasons(self) -> dict[str, str]:
        """The skipped tracks: path -> reason."""
        return {p: r for p, (r, _) in self.skipped.items()}

    def close(self) -> None:
        self._bar.close()
        for f in (self._metrics, self._views):
            if f is not None:
                f.close()
        if self._writer is not None:
            self._writer.close()


def read_log(path: Path) -> list[dict[str, Any]]:
    """The JSON records of a ``.jsonl`` log; a line cut short by a kill is dropped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if isinstance(r, dict):
            rows.append(r)
    return rows


def truncate_log(path: Path, keep: Callable[[dict[str, Any]], bool]) -> None:
    """Rewrite a ``.jsonl`` log (atomically) with the records ``keep`` accepts, if any are dropped."""
    if not path.is_file():
        return
    text = path.read_text(encoding="utf-8")
    kept = [r for r in read_log(path) if keep(r)]
    new = "".join(json.dumps(r) + "\n" for r in kept)
    if new != text:
        write_text(path, new)


def logged_loss(out: Path, step: int) -> float:
    """The loss ``metrics.jsonl`` logged at ``step`` (for checkpoints written before they recorded it)."""
    for r in reversed(read_log(out / "metrics.jsonl")):
        if r.get("step") == step and isinstance(r.get("loss"), (int, float)):
            return float(r["loss"])
    return float("nan")


def read_skipped(out: Path) -> dict[str, tuple[str, int]]:
    """``skipped.csv`` of a run: path -> (reason, count); rows that do not parse are dropped."""
    p = out / "skipped.csv"
    if not p.is_file():
        return {}
    with open(p, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    skipped = {}
    for r in rows:
        try:
            skipped[r["file"]] = (r.get("reason") or "unknown", int(r.get("count") or 0))
        except (KeyError, TypeError, ValueError):  # a hand-edited or foreign file: keep what parses
            continue
    return skipped


def write_skipped(out: Path, skipped: dict[str, tuple[str, int]]) -> None:
    """``skipped.csv``: file, reason, count (failed reads during training; 0 = left out before),
    sorted by file, written atomically."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["file", "reason", "count"])
    for k in sorted(skipped):
        w.writerow([k, skipped[k][0], skipped[k][1]])
    write_text(out / "skipped.csv", buf.getvalue())


def tb_writer(out: Path, purge_step: int | None = None) -> Any:
    """TensorBoard writer into ``out/tb``, or None without tensorboard (the ``tensorboard``
    extra: a one-line warning says so); events at ``purge_step`` and later, left by a killed
    run, are purged."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        warnings.warn(
            "TensorBoard logs are not written: install them with pip install 'tunespace[tensorboard]' "
            "(metrics.jsonl holds the same scalars)",
            stacklevel=2,
        )
        return None
    return SummaryWriter(log_dir=str(out / "tb"), purge_step=purge_step)
