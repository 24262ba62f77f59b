"""Worker for tests/embed/test_sharded.py, one per rank under torchrun (gloo on CPU).

Usage: python -m torch.distributed.run --nproc_per_node N shard_worker.py MODEL DATA OUT REPORT STOP

Embeds DATA into OUT with :func:`tunespace.embed.extract.embed_dataset` (sharded by RANK /
WORLD_SIZE); rank 1 stops after STOP newly embedded tracks (STOP < 0: never). Writes
REPORT/rank<RANK>.json: how many tracks this rank embedded anew and what the call returned.
"""

from __future__ import annotations

import json
import os
import sys

import torch

from tunespace.embed.extract import embed_dataset, load_encoder


def main() -> None:
    model, data, out, report, stop = sys.argv[1:6]
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    stop_at = int(stop)
    embedded: list[int] = []

    def should_stop(n: int) -> bool:
        embedded.append(n)
        return rank == 1 and 0 <= stop_at <= n

    emb = embed_dataset(load_encoder(model), data, out, workers=0, progress=False, should_stop=should_stop)
    result = {"new": max(embedded, default=0), "returned": None if emb is None else len(emb.ids)}
    with open(os.path.join(report, f"rank{rank}.json"), "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
