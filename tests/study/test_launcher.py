"""The study's launchers: stages as submitit jobs (its local executor: processes on this
machine) give the results the in-process launcher gives; failed jobs are resubmitted."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from tests.conftest import tiny_study_overrides

from tunespace.cli import main
from tunespace.errors import ConfigError, UsageError
from tunespace.study import resolve_study_config, run_study
from tunespace.study.launcher import StageFailed, resolve_launcher, run_tasks, thread_share
from tunespace.study.runner import train_stage

ROOT = str(Path(__file__).resolve().parents[2])
JOBS = "launcher={kind: slurm, cluster: local, gpus_per_node: 0, poll_seconds: 0.3, timeout_min: 10}"


@pytest.fixture
def job_env(monkeypatch):
    """Jobs are new processes: they import tunespace and these tests from the checkout."""
    paths = [ROOT, str(Path(ROOT) / "tests"), str(Path(ROOT) / "src")]  # pytest may name this module study.*
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _rows(out: Path) -> list[dict]:
    return json.loads((out / "results.json").read_text())


@pytest.mark.slow
def test_stages_as_jobs_run_concurrently_and_match_the_local_launcher(train_corpus, tmp_path, job_env):
    over = [*tiny_study_overrides(train_corpus), "analysis.null_replicates=5", "analysis.properties=[genre]"]
    local = run_study(tmp_path / "local", resolve_study_config(None, "demo", over))
    assert "stopped" not in local
    out = tmp_path / "jobs"
    messages: list[str] = []
    run_study(out, resolve_study_config(None, "demo", [*over, JOBS]), progress=messages.append)
    # the same stages (keys), the same numbers
    names = {p.parent.name for p in (tmp_path / "local" / "stages").glob("*/done.json")}
    assert names == {p.parent.name for p in (out / "stages").glob("*/done.json")}
    assert len(names) == 7  # 2 trainings, 2 embeddings, 2 analyses, 1 noise floor
    a, b = _rows(tmp_path / "local"), _rows(out)
    assert len(a) == len(b) > 0
    for ra, rb in zip(a, b, strict=True):
        assert {k: v for k, v in ra.items() if k != "value"} == {k: v for k, v in rb.items() if k != "value"}
        assert ra["value"] == pytest.approx(rb["value"], abs=1e-9, nan_ok=True)
    assert (tmp_path / "local" / "results.csv").read_text() == (out / "results.csv").read_text()
    assert (out / "report.md").is_file() and (out / "claims.json").is_file()
    # every stage ran in a process of its own; the two trainings at the same time
    done = {p.parent.name: json.loads(p.read_text()) for p in (out / "stages").glob("*/done.json")}
    pids = {d["pid"] for d in done.values()}
    assert len(pids) == 7 and os.getpid() not in pids
    t1, t2 = (d for n, d in done.items() if n.startswith("train-"))
    assert max(t1["started"], t2["started"]) < min(t1["ended"], t2["ended"])
    assert sum("submitted job" in m for m in messages) == 7
    assert list((out / "jobs").glob("*_log.out"))  # submitit's logs
    # a rerun finds everything cached and submits nothing
    messages.clear()
    run_study(out, resolve_study_config(None, "demo", [*over, JOBS]), progress=messages.append)
    assert not any("submitted" in m for m in messages)


@dataclass(frozen=True)
class FakeTask:
    """A stage of a toy graph: done once its marker file exists."""

    id: str
    folder: str
    deps: tuple[str, ...] = ()
    fail: int = 0  # the first `fail` jobs die
    heavy: bool = False

    @property
    def name(self) -> str:
        return f"task {self.id}"

    @property
    def done(self) -> bool:
        return (Path(self.folder) / f"{self.id}.done").is_file()


def fake_work(task: FakeTask) -> None:
    folder = Path(task.folder)
    attempts = len(list(folder.glob(f"{task.id}.attempt*")))
    (folder / f"{task.id}.attempt{attempts}").write_text(f"{time.time()} {os.getpid()}")
    for dep in task.deps:
        assert (folder / f"{dep}.done").is_file(), f"{task.id} started before {dep} was done"
    if attempts < task.fail:
        os._exit(3)  # the process dies, as a killed job would
    time.sleep(0.5)
    (folder / f"{task.id}.done").write_text(str(time.time()))


def test_dead_jobs_are_resubmitted_and_dependencies_wait(tmp_path, job_env):
    lc = resolve_launcher({"kind": "slurm", "cluster": "local", "poll_seconds": 0.2, "max_retries": 1})
    f = str(tmp_path)
    tasks = [FakeTask("a", f, fail=1), FakeTask("b", f), FakeTask("c", f, deps=("a", "b"))]
    messages: list[str] = []
    assert run_tasks(tasks, fake_work, lc, tmp_path / "jobs", progress=messages.append)
    assert all(t.done for t in tasks)
    assert len(list(tmp_path.glob("a.attempt*"))) == 2 and len(list(tmp_path.glob("c.attempt*"))) == 1
    assert any("task a: job" in m and "resubmitting" in m for m in messages)
    c_start = float((tmp_path / "c.attempt0").read_text().split()[0])
    assert c_start >= max(float((tmp_path / f"{x}.done").read_text()) for x in "ab")
    # a job that keeps dying fails the run with one line naming the stage and its log, once
    # the stages that do not need it have run
    g = tmp_path / "g"
    g.mkdir()
    more = [FakeTask("x", str(g), fail=5), FakeTask("y", str(g)), FakeTask("z", str(g), deps=("x",))]
    with pytest.raises(StageFailed, match=r"stage task x failed in 2 job\(s\).*log: .*1 stage\(s\) that need them"):
        run_tasks(more, fake_work, lc, g / "jobs", progress=messages.append)
    assert more[1].done and not (g / "z.attempt0").exists()


def test_should_stop_stops_and_cancels(tmp_path, job_env):
    lc = resolve_launcher({"kind": "slurm", "cluster": "local", "poll_seconds": 0.2})
    f = str(tmp_path)
    tasks = [FakeTask("a", f), FakeTask("b", f, deps=("a",)), FakeTask("c", f, deps=("b",))]
    seen = []
    assert not run_tasks(tasks, fake_work, lc, tmp_path / "jobs", should_stop=lambda n: seen.append(n) or n >= 1)
    assert seen == [1] and tasks[0].done and not tasks[1].done and not (tmp_path / "c.attempt0").exists()
    # local: the same convention, in this process
    g = tmp_path / "g"
    g.mkdir()
    loc = [FakeTask("a", str(g)), FakeTask("b", str(g), deps=("a",))]
    assert not run_tasks(loc, fake_work, resolve_launcher(None), g, should_stop=lambda n: n >= 1)
    assert loc[0].done and not loc[1].done
    assert run_tasks(loc, fake_work, resolve_launcher(None), g)
    assert loc[1].done


def test_launcher_config_is_checked(train_corpus, tmp_path, capsys, monkeypatch):
    over = tiny_study_overrides(train_corpus)
    with pytest.raises(ConfigError, match=r"launcher\.kind must be .*local.*slurm.*'k8s'"):
        resolve_study_config(None, "demo", [*over, "launcher.kind=k8s"])
    with pytest.raises(ConfigError, match=r"launcher\.gpus_per_node.*-1"):
        resolve_study_config(None, "demo", [*over, "launcher.gpus_per_node=-1"])
    with pytest.raises(ConfigError, match=r"launcher\.partiton.*partition"):
        resolve_study_config(None, "demo", [*over, "launcher.partiton=gpu"])
    assert main(["study", "--preset", "demo", "--out", str(tmp_path / "s"), "--launcher", "pbs"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    # without submitit: one line naming the extra
    monkeypatch.setitem(sys.modules, "submitit", None)
    cfg = resolve_study_config(None, "demo", [*over, JOBS])
    with pytest.raises(UsageError, match=r"pip install 'tunespace\[cluster\]'"):
        run_study(tmp_path / "s", cfg)
    assert not (tmp_path / "s" / "config.json").exists()
    assert main(["study", "--preset", "demo", "--out", str(tmp_path / "c"), "--launcher", "slurm", *over]) == 2
    err = capsys.readouterr().err
    assert "the slurm launcher needs submitit" in err and err.count("\n") == 1


def test_training_key_counts_processes(train_corpus, tmp_path):
    over = tiny_study_overrides(train_corpus)
    keys = {}
    for name, extra in {
        "local": [],
        "one job process": ["launcher={kind: slurm, gpus_per_node: 1}"],
        "8 GPUs": ["launcher={kind: slurm, gpus_per_node: 8}"],
        "2 nodes": ["launcher={kind: slurm, gpus_per_node: 8, nodes: 2}"],
    }.items():
        cfg = resolve_study_config(None, "demo", [*over, *extra])
        keys[name] = train_stage(cfg, "ts", 0, "k", train_corpus, tmp_path)[1]
    assert keys["local"].key == keys["one job process"].key  # the same global batch: the cache is shared
    assert len({k.key for k in keys.values()}) == 3
    assert keys["2 nodes"].config["world_size"] == 16
    assert keys["8 GPUs"].config["world_size"] == 8


def test_a_key_added_later_keeps_the_training_key_while_it_keeps_its_earlier_behaviour(train_corpus, tmp_path):
    over = tiny_study_overrides(train_corpus)
    plain = train_stage(resolve_study_config(None, "demo", over), "ts", 0, "k", train_corpus, tmp_path)
    assert "per_track" not in plain[1].config["train"]["pairs"]  # the key of studies made before it
    assert plain[0]["pairs"]["per_track"] == 1  # while the trainer gets the whole config
    two = train_stage(
        resolve_study_config(None, "demo", [*over, "train.pairs.per_track=2"]), "ts", 0, "k", train_corpus, tmp_path
    )
    assert two[1].config["train"]["pairs"]["per_track"] == 2 and two[1].key != plain[1].key


@pytest.mark.slow
def test_jobs_of_two_processes_train_and_embed_and_resume_from_a_checkpoint(train_corpus, tmp_path, job_env):
    """tasks_per_node=2: the training job is DDP over 2 gloo ranks, the embedding job two shards
    (the EMB folder one process writes); a training stage killed after a checkpoint resumes
    from it in a new job."""
    from tunespace.embed import read_embeddings
    from tunespace.embed.extract import embed_dataset, load_encoder
    from tunespace.models.checkpoint import latest_checkpoint, load_checkpoint

    over = [
        *tiny_study_overrides(train_corpus, "ts"),
        "train.train.steps=4",
        "train.train.keep_checkpoints=5",
        "analysis.null_replicates=5",
        "analysis.properties=[genre]",
        JOBS,
        "launcher.tasks_per_node=2",
    ]
    cfg = resolve_study_config(None, "demo", over)
    out = tmp_path / "study"
    run_study(out, cfg)
    (tstage,) = (out / "stages").glob("train-*")
    (estage,) = (out / "stages").glob("embed-*")
    assert json.loads((tstage / "stage.json").read_text())["config"]["world_size"] == 2
    assert json.loads((tstage / "run" / "run.json").read_text())["world_size"] == 2
    assert json.loads((tstage / "done.json").read_text())["processes"] == 2
    assert json.loads((estage / "done.json").read_text())["processes"] == 2
    single = embed_dataset(load_encoder(tstage / "run"), train_corpus, tmp_path / "one", workers=0, progress=False)
    sharded = read_embeddings(estage / "emb")
    assert sharded.ids == single.ids
    np.testing.assert_allclose(np.asarray(sharded.vectors), np.asarray(single.vectors), atol=1e-6, rtol=0)
    # the training job "died" after its step-2 checkpoint: a new job resumes from it
    run = tstage / "run"
    (tstage / "done.json").unlink()
    (run / "checkpoints" / "step_0000004.pt").unlink()
    (run / "checkpoints" / "latest.txt").write_text("step_0000002.pt\n")
    messages: list[str] = []
    run_study(out, cfg, progress=messages.append)
    assert [m for m in messages if "submitted" in m] == [
        m for m in messages if m.startswith("train ts seed 0: submitted")
    ]
    assert len([m for m in messages if "submitted" in m]) == 1
    assert load_checkpoint(latest_checkpoint(run))["step"] == 4 and (tstage / "done.json").is_file()


def test_slurm_jobs_ask_for_what_the_launcher_section_says(tmp_path, monkeypatch):
    """The sbatch scripts submitit would write (a stand-in srun: no Slurm here)."""
    import submitit

    from tunespace.study.launcher import _executor

    lc = resolve_launcher(
        {
            "kind": "slurm",
            "partition": "gpu",
            "cpu_partition": "cpu",
            "nodes": 2,
            "gpus_per_node": 8,
            "timeout_min": 600,
            "setup": ["source /opt/venv/bin/activate"],
            "slurm": {"account": "myproj"},
        }
    )
    with pytest.raises(UsageError, match="the slurm launcher needs Slurm"):
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
        _executor(submitit, lc, tmp_path / "jobs", True)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "srun").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / "bin" / "srun").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    scripts = {}
    for heavy in (True, False):
        ex = _executor(submitit, lc, tmp_path / "jobs", heavy)
        scripts[heavy] = ex._executor._make_submission_file_text("CMD", "uid")  # noqa: SLF001
    gpu, cpu = scripts[True], scripts[False]
    for line in ("--nodes=2", "--ntasks-per-node=8", "--gpus-per-node=8", "--partition=gpu", "--time=600"):
        assert f"#SBATCH {line}\n" in gpu
    for line in ("--nodes=1", "--ntasks-per-node=1", "--partition=cpu"):
        assert f"#SBATCH {line}\n" in cpu
    assert "gpus" not in cpu
    assert all("#SBATCH --account=myproj\n" in s and "source /opt/venv/bin/activate\n" in s for s in (gpu, cpu))


def test_local_workers_run_stages_at_once_retry_and_report_failures(tmp_path, job_env):
    lc = resolve_launcher({"workers": 2, "max_retries": 1})
    f = str(tmp_path)
    tasks = [
        FakeTask("a", f, fail=1, heavy=True),
        FakeTask("b", f, heavy=True),
        FakeTask("c", f, heavy=True),
        FakeTask("d", f, deps=("a", "b"), heavy=True),
        FakeTask("e", f, deps=("c",)),  # a light stage: in this process
    ]
    messages: list[str] = []
    assert run_tasks(tasks, fake_work, lc, tmp_path / "jobs", progress=messages.append)
    assert all(t.done for t in tasks)
    assert len(list(tmp_path.glob("a.attempt*"))) == 2 and any("resubmitting" in m for m in messages)
    started = {x: float((tmp_path / f"{x}.attempt0").read_text().split()[0]) for x in "abcd"}
    ended = {x: float((tmp_path / f"{x}.done").read_text()) for x in "abcd"}
    pids = {(tmp_path / f"{x}.attempt0").read_text().split()[1] for x in "abcd"}
    assert len(pids) == 4 and str(os.getpid()) not in pids  # each heavy stage in a process of its own
    assert (tmp_path / "e.attempt0").read_text().split()[1] == str(os.getpid())
    assert started["d"] >= max(ended["a"], ended["b"])
    # never more than two at once: every start lies inside at most one other stage's run
    last = {x: max(tmp_path.glob(f"{x}.attempt*")) for x in "abcd"}  # each one's successful attempt
    spans = [(float(last[x].read_text().split()[0]), ended[x]) for x in "abcd"]
    for s0, _ in spans:
        assert sum(a < s0 < b for a, b in spans) <= 1
    g = tmp_path / "g"
    g.mkdir()
    more = [
        FakeTask("x", str(g), fail=5, heavy=True),
        FakeTask("y", str(g), heavy=True),
        FakeTask("z", str(g), deps=("x",), heavy=True),
    ]
    with pytest.raises(
        StageFailed, match=r"stage task x failed in 2 job\(s\); last: the process ended with exit status 3"
    ):
        run_tasks(more, fake_work, lc, g / "jobs")
    assert more[1].done and not (g / "z.attempt0").exists()
    with pytest.raises(ConfigError, match="launcher.workers must be an integer >= 1"):
        resolve_launcher({"workers": 0})


def idle_work(task: FakeTask) -> None:
    """A job that ends without completing its stage (as one of changed code computes another)."""


def test_the_serial_launcher_also_fails_a_stage_its_work_leaves_unfinished(tmp_path):
    lc = resolve_launcher({"workers": 1})
    tasks = [FakeTask("a", str(tmp_path)), FakeTask("b", str(tmp_path), deps=("a",))]
    with pytest.raises(StageFailed, match=r"^stage task a ended without completing the stage"):
        run_tasks(tasks, idle_work, lc, tmp_path / "jobs", progress=lambda m: None)


def test_a_source_change_during_the_study_is_named_not_retried(tmp_path, job_env, monkeypatch):
    from tunespace.study import cache
    from tunespace.study.launcher import source_changed

    cache.code_fingerprint()  # the study's keys were computed with the code as it was
    assert source_changed() is None
    lc = resolve_launcher({"workers": 2, "max_retries": 2})
    with pytest.raises(StageFailed, match=r"task t failed in 3 job\(s\); last: the job ended without completing"):
        run_tasks([FakeTask("t", str(tmp_path), heavy=True)], idle_work, lc, tmp_path / "jobs")
    monkeypatch.setattr(cache, "source_fingerprint", lambda root: "edited000000")
    messages: list[str] = []
    with pytest.raises(StageFailed, match=r"failed in 1 job\(s\); last: tunespace's source changed while the study"):
        run_tasks(
            [FakeTask("u", str(tmp_path), heavy=True)], idle_work, lc, tmp_path / "jobs2", progress=messages.append
        )
    assert not any("resubmitting" in m for m in messages)
    assert "edited000000" in source_changed()


def thread_work(task: FakeTask) -> None:
    import torch

    (Path(task.folder) / f"{task.id}.done").write_text(str(torch.get_num_threads()))


def test_local_workers_share_the_cores_among_their_torch_threads(tmp_path, job_env):
    assert [thread_share(w, cores=8) for w in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert thread_share(1) >= 1
    for workers in (2, 3):
        f = tmp_path / str(workers)
        f.mkdir()
        run_tasks([FakeTask("t", str(f), heavy=True)], thread_work, resolve_launcher({"workers": workers}), f / "jobs")
        assert int((f / "t.done").read_text()) == thread_share(workers)


def test_launcher_threads_pin_every_stage_whatever_the_workers(tmp_path, job_env):
    import torch

    before = torch.get_num_threads()
    pinned = 3 if before != 3 else 2
    for workers in (1, 2):
        f = tmp_path / str(workers)
        f.mkdir()
        tasks = [FakeTask("heavy", str(f), heavy=True), FakeTask("light", str(f), heavy=False)]
        run_tasks(tasks, thread_work, resolve_launcher({"workers": workers, "threads": pinned}), f / "jobs")
        assert [int((f / f"{t}.done").read_text()) for t in ("heavy", "light")] == [pinned, pinned]
        assert torch.get_num_threads() == before  # the study's process gets its setting back
    with pytest.raises(ConfigError, match="launcher.threads must be an integer >= 0"):
        resolve_launcher({"threads": -1})


def failing_work(task: FakeTask) -> None:
    raise UsageError(f"{task.id}: no such dataset")


def test_a_local_worker_reports_the_stage_error_in_one_line(tmp_path, job_env):
    lc = resolve_launcher({"workers": 2, "max_retries": 0})
    for heavy in (True, False):  # in a worker process, and in this one
        with pytest.raises(StageFailed, match=r"stage task q failed in 1 job\(s\); last: UsageError: q: no such"):
            run_tasks([FakeTask("q", str(tmp_path), heavy=heavy)], failing_work, lc, tmp_path / "jobs")


@pytest.mark.slow
def test_a_study_with_two_local_workers_gives_the_same_results(train_corpus, tmp_path, job_env):
    over = [*tiny_study_overrides(train_corpus), "analysis.null_replicates=5", "analysis.properties=[genre]"]
    over += ["launcher.threads=2"]  # every stage's threads pinned (trainings: their train.threads, 1)
    run_study(tmp_path / "one", resolve_study_config(None, "demo", over))
    run_study(tmp_path / "two", resolve_study_config(None, "demo", [*over, "launcher.workers=2"]))
    assert (tmp_path / "one" / "results.csv").read_text() == (tmp_path / "two" / "results.csv").read_text()
    for run in ("one", "two"):  # each stage records the threads it computed with
        for p in (tmp_path / run / "stages").glob("*/done.json"):
            assert json.loads(p.read_text())["torch_threads"] == (1 if p.parent.name.startswith("train-") else 2), p
    done = [json.loads(p.read_text()) for p in (tmp_path / "two" / "stages").glob("train-*/done.json")]
    assert len(done) == 2 and os.getpid() not in {d["pid"] for d in done}
    assert max(d["started"] for d in done) < min(d["ended"] for d in done)  # the two trainings overlapped
