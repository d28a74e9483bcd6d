#!/usr/bin/python3
"""Every rank of a 4-rank job over two fake sites (tests/mpi/interleaved_sites.sh)
changes its link model at the same calls: with STRATA_ADAPT_INTERVAL=2 and
a drift of 1e-6 (any measurement moves the model), 8 AllReduce calls of
16 MiB give 4 exchanges; every rank must report the same model changes and
the same model, and every result must be exact."""
import re
import sys

import numpy as np
from mpi4py import MPI

import strata

world = MPI.COMM_WORLD
comm = strata.Communicator.from_mpi(name="adapt-test")
count = (16 << 20) // 4
for call in range(8):
    data = np.full(count, world.rank + call, np.float32)
    comm.all_reduce(data)
    expected = sum(rank + call for rank in range(world.size))
    assert np.all(data == expected), f"rank {world.rank} call {call}: wrong sum"
text = strata.metrics_text()
changes = int(float(re.search(r'^strata_link_model_changes_total\{[^}]*comm="adapt-test"[^}]*\} (\S+)$', text, re.M).group(1)))
model = float(re.search(r'^strata_link_model_bytes_per_second\{[^}]*comm="adapt-test"[^}]*link="wan"[^}]*\} (\S+)$',
                        text, re.M).group(1))
everyone = world.allgather((changes, model))
world.Barrier()
comm.destroy()
if world.rank == 0:
    print("per rank (model changes, WAN model bytes/s):", everyone)
    assert everyone[0][0] >= 1, "the model never moved"
    assert all(e == everyone[0] for e in everyone), "ranks disagree on the link model"
    print("live link model agreed on every rank")
