"""One rank under torchrun (test_torchrun.py): the backend over env:// and a
bare strata communicator from the same environment, side by side."""

import numpy as np
import torch
import torch.distributed as dist

import strata
import strata.torch  # noqa: F401

dist.init_process_group("strata")  # env:// from torchrun
rank, size = dist.get_rank(), dist.get_world_size()
t = torch.full((4,), float(rank + 1))
dist.all_reduce(t)
assert (t == size * (size + 1) / 2).all(), t
with strata.Communicator.from_env(name="torchrun") as comm:
    assert (comm.rank, comm.size) == (rank, size)
    total = comm.all_reduce(np.array([rank], np.int64))
    assert total[0] == size * (size - 1) // 2, total
dist.destroy_process_group()
print(f"torchrun rank {rank} of {size}: ok", flush=True)
