"""Where a study's stages run: in the study's own process (``local``) or as Slurm jobs (``slurm``).

The study is a graph of cached stages (:mod:`tunespace.study.runner`). The ``local`` launcher
computes them one after the other in this process, or with ``workers`` N > 1 runs up to N
trainings and embeddings at a time, each in a process of its own on this machine (a training
uses one core with ``train.threads: 1``: N trainings use N cores, and hold N times the memory),
while the light stages run in this process. The ``slurm`` launcher submits every stage
whose inputs are done as a job with `submitit <https://github.com/facebookincubator/submitit>`_
(``pip install 'tunespace[cluster]'``), waits, and submits the stages that became ready, until
all are done; the report is then built in this process. Training and embedding stages get
``nodes`` x ``gpus_per_node`` GPUs and one process per GPU (torch.distributed: DDP with
negatives gathered across all ranks for training, one shard of the tracks per rank for
embedding); the other stages (corpora, baselines, analyses, noise floors) get one process
without a GPU, on ``cpu_partition`` when given.

Failures: a job that fails or dies is resubmitted (``max_retries`` times); the stage it runs
resumes from what is cached (a training stage from its last checkpoint, an embedding stage
from its finished tracks). A stage that keeps failing holds back only the stages that need it:
the others run on, and the study then stops with one line naming it and its log. A job that
reaches its time limit or is preempted is requeued by submitit (``max_timeouts`` times) and
resumes the same way. The study process itself holds
the study folder's lock; if it is interrupted (Ctrl-C, SIGTERM, an error) it cancels the jobs it
submitted, and running the same command again resumes from the cache. Killed outright (``kill
-9``, a lost login session), it cannot: its jobs (named ``tunespace-<stage folder>``) run on,
and a rerun's job for the same stage would find the stage's folder locked; wait for them or
``scancel`` them first. Run the study process in ``tmux`` or as a small job of its own.

The ``launcher:`` section of a study config (``--launcher`` on the command line sets ``kind``):

- ``kind``: ``local`` (default) or ``slurm``.
- ``workers`` (1): with ``local``, how many trainings and embeddings run at once, each in its
  own process with ``cores // workers`` torch threads (failures are handled as for jobs below:
  retried, then reported with what depends on them); the light stages run in the study's
  process meanwhile.
- ``threads`` (0): with ``local``, the torch CPU threads of every stage, in the study's process
  and in the workers' (a training's ``train.threads`` still wins). 0 leaves torch's default (one
  per core) in the study's process and gives each worker ``cores // workers``. Torch's CPU
  results depend on its thread count in the last bits (the order of its parallel sums), and
  neighbour lists and a few locality values then follow: set ``threads`` for results that are
  bit for bit the same whatever ``workers`` and the number of cores are (the demo preset sets
  2).
- ``partition``: Slurm partition of the training and embedding jobs; ``cpu_partition``: that
  of the other jobs (default: ``partition``).
- ``nodes`` (1), ``gpus_per_node`` (1), ``tasks_per_node`` (processes per node; default:
  ``gpus_per_node``, or 1 without GPUs), ``cpus_per_task`` (8), ``mem_gb`` (per node; default:
  Slurm's), ``timeout_min`` (time limit of one job, 1440).
- ``max_retries`` (2), ``max_timeouts`` (20), ``poll_seconds`` (30): how often jobs are checked.
- ``folder``: where submitit keeps job scripts and logs (default ``OUT/jobs``).
- ``setup``: shell lines run before each job (``module load ...``, ``source venv/bin/activate``).
- ``slurm``: further ``sbatch`` parameters, e.g. ``{account: myproj, qos: high, constraint: a100}``.
- ``cluster``: submitit's executor, ``slurm`` (default) or ``local``: jobs as processes on this
  machine (for tests; one node, no Slurm).

A training stage's cache key includes the number of processes when it is above 1 (the global
batch is ``train.batch_size`` x processes), so a study trained on 16 GPUs never reuses a
one-process run, nor the reverse.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..config import require
from ..errors import TunespaceError, UsageError

LAUNCHERS = ("local", "slurm")
CLUSTERS = ("slurm", "local")
DEFAULTS: dict[str, Any] = {
    "kind": "local",
    "workers": 1,
    "threads": 0,
    "cluster": "slurm",
    "partition": None,
    "cpu_partition": None,
    "nodes": 1,
    "gpus_per_node": 1,
    "tasks_per_node": None,
    "cpus_per_task": 8,
    "mem_gb": None,
    "timeout_min": 1440,
    "max_retries": 2,
    "max_timeouts": 20,
    "poll_seconds": 30.0,
    "folder": None,
    "setup": [],
    "slurm": {},
}
#: The keys of the ``launcher`` section (for :data:`tunespace.study.config.SCHEMA`).
SCHEMA: dict[str, Any] = dict.fromkeys(DEFAULTS)


class StageFailed(TunespaceError):
    """A stage's job failed more often than ``launcher.max_retries`` allows."""

    exit_code = 1


def _int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def resolve_launcher(section: dict[str, Any] | None) -> dict[str, Any]:
    """The ``launcher`` section with its defaults filled in, checked (ConfigError naming the key)."""
    section = section if section is not None else {}
    require(isinstance(section, dict), f"launcher must be a section of keys, got {section!r}")
    lc = {**DEFAULTS, **section}
    require(lc["kind"] in LAUNCHERS, f"launcher.kind must be one of {', '.join(LAUNCHERS)}, got {lc['kind']!r}")
    require(lc["cluster"] in CLUSTERS, f"launcher.cluster must be one of {', '.join(CLUSTERS)}, got {lc['cluster']!r}")
    for key in ("workers", "nodes", "cpus_per_task", "timeout_min"):
        require(_int(lc[key]) and lc[key] >= 1, f"launcher.{key} must be an integer >= 1, got {lc[key]!r}")
    for key in ("threads", "gpus_per_node", "max_retries", "max_timeouts"):
        require(_int(lc[key]) and lc[key] >= 0, f"launcher.{key} must be an integer >= 0, got {lc[key]!r}")
    if lc["tasks_per_node"] is None:
        lc["tasks_per_node"] = max(1, lc["gpus_per_node"])
    require(
        _int(lc["tasks_per_node"]) and lc["tasks_per_node"] >= 1,
        f"launcher.tasks_per_node must be an integer >= 1, got {lc['tasks_per_node']!r}",
    )
    require(
        lc["mem_gb"] is None or (isinstance(lc["mem_gb"], (int, float)) and lc["mem_gb"] > 0),
        f"launcher.mem_gb must be a positive number of GB, got {lc['mem_gb']!r}",
    )
    require(
        isinstance(lc["poll_seconds"], (int, float)) and lc["poll_seconds"] > 0,
        f"launcher.poll_seconds must be a number of seconds > 0, got {lc['poll_seconds']!r}",
    )
    for key in ("partition", "cpu_partition", "folder"):
        require(lc[key] is None or isinstance(lc[key], str), f"launcher.{key} must be a string, got {lc[key]!r}")
    require(
        isinstance(lc["setup"], list) and all(isinstance(s, str) for s in lc["setup"]),
        f"launcher.setup must be a list of shell lines, got {lc['setup']!r}",
    )
    require(
        isinstance(lc["slurm"], dict), f"launcher.slurm must be a section of sbatch parameters, got {lc['slurm']!r}"
    )
    require(
        lc["cluster"] != "local" or lc["nodes"] == 1,
        "launcher.nodes must be 1 with launcher.cluster=local (processes on this machine)",
    )
    return lc


def world_size(cfg: dict[str, Any]) -> int:
    """Processes of a training or embedding stage under the study config's launcher (1 locally)."""
    lc = resolve_launcher(cfg.get("launcher"))
    return 1 if lc["kind"] == "local" else lc["nodes"] * lc["tasks_per_node"]


def submitit_module() -> Any:
    """``submitit``, or a one-line error naming the extra that installs it (``tunespace[cluster]``)."""
    from ..extras import import_extra

    return import_extra("submitit", "the slurm launcher")


def export_distributed_env() -> int:
    """In a job of several tasks, set ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and
    ``MASTER_PORT`` for torch.distributed (env:// initialisation); returns this task's rank."""
    submitit = submitit_module()
    env = submitit.JobEnvironment()
    if env.num_tasks <= 1:
        return 0
    tde = submitit.helpers.TorchDistributedEnvironment()
    tde.export(set_cuda_visible_devices=False, overwrite=True)
    if env.num_nodes == 1:  # always reachable, whatever the host name resolves to
        os.environ["MASTER_ADDR"] = "127.0.0.1"
    try:
        import torch

        # Slurm may have bound each task to its own GPU(s): then the first visible one is ours
        if torch.cuda.is_available() and torch.cuda.device_count() < tde.local_world_size:
            os.environ["LOCAL_RANK"] = "0"
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return tde.rank


class StageJob:
    """The callable a job runs: ``work(task)`` on every task of the job.

    Submitit calls :meth:`checkpoint` when the job reaches its time limit or is preempted, and
    requeues what it returns: the same stage, which resumes from its cache.
    """

    def __init__(self, work: Callable[[Any], Any], task: Any) -> None:
        self.work, self.task = work, task

    def __call__(self) -> Any:
        export_distributed_env()
        return self.work(self.task)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        return submitit_module().helpers.DelayedSubmission(StageJob(self.work, self.task), *args, **kwargs)


def _first_line(e: BaseException) -> str:
    """What went wrong, in one line: the job's own exception when submitit relays its traceback."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    raised = [ln for ln in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b", ln)]
    return (raised[-1] if raised else lines[0] if lines else type(e).__name__)[:300]


def source_changed() -> str | None:
    """What to tell the user when tunespace's source files changed since this process computed its
    stage keys (:func:`~tunespace.study.cache.code_fingerprint`, cached at its first call): a job
    started since then computes the stages of the new code, never the ones this study waits for.
    None while the source is unchanged."""
    from .cache import code_fingerprint, current_code_fingerprint

    start, now = code_fingerprint(), current_code_fingerprint()
    if now == start:
        return None
    return (
        f"tunespace's source changed while the study ran (code {start} -> {now}): "
        "restore it and run the same command again, or run it again with the new code (which recomputes the stages)"
    )


def run_tasks(
    tasks: Sequence[Any],
    work: Callable[[Any], Any],
    lc: dict[str, Any],
    folder: Path,
    *,
    should_stop: Callable[[int], bool] | None = None,
    progress: Callable[[str], None] = print,
) -> bool:
    """Compute every task that is not done, each once the tasks it depends on are done.

    Each task has ``id`` (unique), ``name`` (for messages), ``deps`` (ids), ``heavy`` (gets the
    GPUs) and ``done`` (a property: its result is in the cache). ``work(task)`` computes one
    (in every process of its job) and marks it done.

    Args:
        lc: the resolved launcher section (:func:`resolve_launcher`).
        folder: where submitit keeps its job files (``lc["folder"]`` wins).
        should_stop: called with the number of tasks completed so far after each completion;
            True stops (running jobs are cancelled).
    Returns:
        True when every task is done, False when stopped.
    Raises:
        StageFailed: a task's job failed ``max_retries`` + 1 times (raised once every task that
            does not need it has run).
    """
    todo = [t for t in tasks if not t.done]
    local = lc["kind"] == "local"
    with _threads(lc["threads"] if local else 0):  # this process's stages
        if local and lc["workers"] <= 1:
            for n, t in enumerate(todo, 1):
                progress(t.name)
                work(t)
                if not t.done:  # as a job that ends without its stage: the stages after it would read nothing
                    raise StageFailed(f"stage {t.name} ended without completing the stage (in this process)")
                if should_stop is not None and should_stop(n):
                    return False
            return True
        return _run_jobs(todo, tasks, work, lc, folder, should_stop, progress)


def _run_jobs(
    todo: list[Any],
    tasks: Sequence[Any],
    work: Callable[[Any], Any],
    lc: dict[str, Any],
    folder: Path,
    should_stop: Callable[[int], bool] | None,
    progress: Callable[[str], None],
) -> bool:
    """:func:`run_tasks` with jobs: local worker processes or Slurm jobs."""

    poll = lc["poll_seconds"]
    if lc["kind"] == "local":
        # trainings and embeddings in processes of their own; the light stages (corpora,
        # baselines, analyses) in this process, which has paid its imports once
        executors: dict[bool, Any] = {
            True: _Processes(lc["workers"], lc["threads"] or thread_share(lc["workers"])),
            False: _InProcess(),
        }
        poll = min(poll, 0.2)  # a process's end is cheap to check
    else:
        submitit = submitit_module()
        folder = Path(lc["folder"]).expanduser() if lc["folder"] else folder
        executors = {heavy: _executor(submitit, lc, folder, heavy) for heavy in (True, False)}
    known = {t.id for t in tasks}
    done = {t.id for t in tasks if t.done}
    for t in todo:
        missing = [d for d in t.deps if d not in known]
        if missing:
            raise UsageError(f"stage {t.name} depends on {missing[0]}, which is not a stage of this study")
    pending = list(todo)
    running: dict[str, tuple[Any, Any, int]] = {}  # id -> (job, task, attempt)
    completed = 0

    def submit(t: Any, attempt: int) -> None:
        ex = executors[bool(t.heavy)]
        ex.update_parameters(name=f"tunespace-{t.id}")
        job = ex.submit(StageJob(work, t))
        running[t.id] = (job, t, attempt)
        retry = f", attempt {attempt + 1}" if attempt else ""
        progress(f"{t.name}: submitted job {job.job_id}{retry}")

    failed: dict[str, str] = {}  # id -> what went wrong
    skipped: set[str] = set()  # needing a failed stage
    try:
        while True:
            for t in list(pending):
                if any(d in failed or d in skipped for d in t.deps):
                    pending.remove(t)
                    skipped.add(t.id)
                elif all(d in done for d in t.deps):
                    pending.remove(t)
                    submit(t, 0)
            if not running:
                break
            for tid in _wait_any(running, poll):
                job, t, attempt = running.pop(tid)
                error = None
                try:
                    job.results()  # of every task of the job
                except Exception as e:  # noqa: BLE001 - a failed or killed job, whatever its error
                    error = e
                if t.done:  # its marker, written last, is what counts
                    done.add(tid)
                    completed += 1
                    progress(f"{t.name}: done (job {job.job_id})")
                    if should_stop is not None and should_stop(completed):
                        return False
                    continue
                changed = source_changed()
                if changed is not None:  # every job from now on computes other stages: retrying is useless
                    why = changed
                else:
                    why = _first_line(error) if error is not None else "the job ended without completing the stage"
                if changed is None and attempt < lc["max_retries"]:
                    progress(f"{t.name}: job {job.job_id} failed ({why}); resubmitting, it resumes from its cache")
                    submit(t, attempt + 1)
                else:
                    failed[tid] = f"stage {t.name} failed in {attempt + 1} job(s); last: {why} (log: {_log_path(job)})"
                    progress(f"{failed[tid]}; the stages that need it will not run, the others go on")
        if failed:
            others = len(failed) - 1
            raise StageFailed(
                next(iter(failed.values()))
                + (f"; {others} other stage(s) failed too" if others else "")
                + (f"; {len(skipped) + len(pending)} stage(s) that need them did not run" if skipped or pending else "")
                + "; fix the cause and run the same command again (finished stages are kept)"
            )
        if pending:  # cannot happen: deps are checked above and tasks form a graph
            raise UsageError(f"stages wait on each other: {', '.join(t.name for t in pending)}")
        return True
    finally:
        for job, t, _ in running.values():
            progress(f"{t.name}: cancelling job {job.job_id}")
            try:
                job.cancel(check=False)
            except Exception:  # noqa: BLE001 - best effort: the job may have ended meanwhile
                pass


def thread_share(workers: int, cores: int | None = None) -> int:
    """Torch threads for each of ``workers`` stage processes sharing ``cores`` (default: the cores
    this process may run on): ``max(1, cores // workers)``.

    Two processes each running torch's default of one thread per core spin against each other:
    two embedding stages of 287 tracks side by side on 2 cores took 133.8 s, against 40.4 s with
    one thread each (``bench/bench_worker_threads.py``; docs/benchmarks.md, "A study's workers").
    """
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


def _threads(n: int) -> contextlib.AbstractContextManager[None]:
    """:func:`tunespace.devices.torch_threads` (torch is imported only when ``n`` is set)."""
    if not n:
        return contextlib.nullcontext()
    from ..devices import torch_threads

    return torch_threads(n)


def _run_in_process(work: Callable[[Any], Any], task: Any, conn: Any, threads: int) -> None:
    """A worker process of the local launcher: ``work(task)`` with ``threads`` torch threads (a
    training's ``train.threads`` still wins); what went wrong goes back on ``conn``."""
    try:
        import torch

        torch.set_num_threads(threads)
        work(task)
        conn.send(None)
    except BaseException as e:  # noqa: BLE001 - reported to the launcher, which decides
        if not isinstance(e, TunespaceError):  # a bug: its traceback, as in the launcher's own process
            traceback.print_exc()
        conn.send(f"{type(e).__name__}: {e}")
        raise SystemExit(1) from None
    finally:
        conn.close()


class _LocalJob:
    """A stage the local launcher ran (the part of a submitit job the scheduler uses): finished,
    and ``results()`` raises its ``error`` as a failed job's would."""

    def __init__(self, job_id: str, error: str | None = None) -> None:
        self.job_id, self.error = job_id, error
        self.paths = SimpleNamespace(stderr="this process's output")

    def done(self) -> bool:
        return True

    def results(self) -> list[Any]:
        if self.error is not None:
            raise RuntimeError(self.error)
        return [None]

    def cancel(self, check: bool = False) -> None:
        """Nothing runs any more."""


class _ProcessJob(_LocalJob):
    """A stage in a process of its own, started when the pool has room."""

    def __init__(self, pool: _Processes, job: StageJob, job_id: str) -> None:
        super().__init__(job_id)
        self.pool, self.job = pool, job
        self.process: Any = None
        self.conn: Any = None
        self.cancelled = False

    def start(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
        self.conn, child = ctx.Pipe(duplex=False)
        self.process = ctx.Process(
            target=_run_in_process, args=(self.job.work, self.job.task, child, self.pool.threads), daemon=False
        )
        self.process.start()
        child.close()

    def done(self) -> bool:
        self.pool.pump()
        if self.cancelled:
            return True
        if self.process is None or self.process.is_alive():
            return False
        if self.conn.poll():
            try:
                self.error = self.conn.recv()
            except EOFError:
                pass
        return True

    def results(self) -> list[Any]:
        if self.cancelled:
            raise RuntimeError("cancelled")
        if self.error is None and self.process.exitcode != 0:
            self.error = f"the process ended with exit status {self.process.exitcode}"
        return super().results()

    def cancel(self, check: bool = False) -> None:
        self.cancelled = True
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(10)


class _InProcess:
    """The local launcher's executor of light stages: computed at once, in this process."""

    def __init__(self) -> None:
        self.count = 0

    def update_parameters(self, **kwargs: Any) -> None:
        """Submitit's executor interface; nothing to set."""

    def submit(self, job: StageJob) -> _LocalJob:
        self.count += 1
        try:
            job.work(job.task)
            error = None
        except TunespaceError as e:  # expected failures are reported like a job's; a bug propagates
            error = f"{type(e).__name__}: {e}"
        return _LocalJob(f"here-{self.count}", error)


class _Processes:
    """The local launcher's executor with ``workers`` > 1: at most ``n`` stages run at once."""

    def __init__(self, n: int, threads: int) -> None:
        self.n, self.queued, self.started, self.count = n, [], [], 0
        self.threads = threads

    def update_parameters(self, **kwargs: Any) -> None:
        """Submitit's executor interface; nothing to set for a process."""

    def submit(self, job: StageJob) -> _ProcessJob:
        self.count += 1
        j = _ProcessJob(self, job, f"local-{self.count}")
        self.queued.append(j)
        self.pump()
        return j

    def pump(self) -> None:
        """Start queued stages while fewer than ``n`` run."""
        self.started = [j for j in self.started if j.process.is_alive()]
        while self.queued and len(self.started) < self.n:
            j = self.queued.pop(0)
            if not j.cancelled:
                j.start()
                self.started.append(j)


def _wait_any(running: dict[str, tuple[Any, Any, int]], poll_seconds: float) -> list[str]:
    """Block until at least one running job has ended; their ids."""
    while True:
        ended = [tid for tid, (job, _, _) in running.items() if job.done()]
        if ended:
            return ended
        time.sleep(poll_seconds)


def _log_path(job: Any) -> str:
    try:
        return str(job.paths.stderr)
    except Exception:  # noqa: BLE001 - only for the message
        return "?"


def _executor(submitit: Any, lc: dict[str, Any], folder: Path, heavy: bool) -> Any:
    try:
        ex = submitit.AutoExecutor(folder=folder, cluster=lc["cluster"], slurm_max_num_timeout=lc["max_timeouts"])
    except RuntimeError as e:  # no srun on this machine
        raise UsageError(
            f"the slurm launcher needs Slurm ({_first_line(e)}): run the study on a login node of the cluster"
        ) from None
    params: dict[str, Any] = {
        "timeout_min": lc["timeout_min"],
        "nodes": lc["nodes"] if heavy else 1,
        "tasks_per_node": lc["tasks_per_node"] if heavy else 1,
        "cpus_per_task": lc["cpus_per_task"],
    }
    if heavy:  # the other jobs ask for no GPU at all (some Slurm set-ups refuse --gpus-per-node=0)
        params["gpus_per_node"] = lc["gpus_per_node"]
    if lc["mem_gb"] is not None:
        params["mem_gb"] = lc["mem_gb"]
    partition = lc["partition"] if heavy else (lc["cpu_partition"] or lc["partition"])
    if lc["cluster"] == "slurm":
        if partition:
            params["slurm_partition"] = partition
        if lc["setup"]:
            params["slurm_setup"] = list(lc["setup"])
        if lc["slurm"]:
            params["slurm_additional_parameters"] = dict(lc["slurm"])
    elif lc["setup"]:
        params["local_setup"] = list(lc["setup"])
    ex.update_parameters(**params)
    return ex
