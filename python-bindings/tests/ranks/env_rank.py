"""One rank of the environment rendezvous test (test_env_rendezvous.py)."""

import numpy as np

import strata

with strata.Communicator.from_env(name="env") as comm:
    total = comm.all_reduce(np.array([comm.rank + 1], np.int64))
    print(f"rank {comm.rank} of {comm.size}: sum {int(total[0])}", flush=True)
