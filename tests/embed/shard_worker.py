"""Worker for tests/embed/test_sharded.py, one per rank under torchrun (gloo on CPU).

Usage: python -m torch.distributed.run --nproc_per_node N shard_worker.py MODEL DATA OUT REPORT STOP

Embeds DATA into OUT with :func:`tunespace.embed.extract.embed_dataset` (sharded by RANK /
WORLD_SIZE); rank 1 stops after STOP newly embedded tracks (STOP < 0: never). Writes
REPORT/rank<RANK>.json: how many tracks this rank embedded anew, what the call returned, and
what the ranks exchanged through ``torch.distributed.all_gather_object`` (the largest pickled
value this rank received, in bytes, and the type names of the values).
"""

from __future__ import annotations

import json
import os
import pickle
import sys

import torch
import torch.distributed as dist

from tunespace.embed.extract import embed_dataset, load_encoder


def main() -> None:
    model, data, out, report, stop = sys.argv[1:6]
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])
    stop_at = int(stop)
    embedded: list[int] = []
    gathered: list[tuple[int, str]] = []
    real_gather = dist.all_gather_object

    def spy_gather(object_list, obj, group=None):
        real_gather(object_list, obj, group)
        for o in object_list:  # _Shards.agree gathers (value, error message) pairs
            value = o[0] if isinstance(o, tuple) else o
            gathered.append((len(pickle.dumps(o)), type(value).__name__))

    dist.all_gather_object = spy_gather

    def should_stop(n: int) -> bool:
        embedded.append(n)
        return rank == 1 and 0 <= stop_at <= n

    emb = embed_dataset(load_encoder(model), data, out, workers=0, progress=False, should_stop=should_stop)
    result = {
        "new": max(embedded, default=0),
        "returned": None if emb is None else len(emb.ids),
        "gathered_bytes": max((n for n, _ in gathered), default=0),
        "gathered_types": sorted({t for _, t in gathered}),
    }
    with open(os.path.join(report, f"rank{rank}.json"), "w", encoding="utf-8") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
