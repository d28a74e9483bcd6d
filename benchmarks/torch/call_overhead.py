#!/usr/bin/python3
"""Per-call overhead of the Python layers over the C++ API: the median time
of a tiny all_reduce through the torch backend "strata", the NumPy module and
(for reference) gloo, in rounds that alternate between them, run under
mpirun (one process per rank, one host):

    mpirun -np 2 /usr/bin/python3 benchmarks/torch/call_overhead.py [--iters 2000] [--rounds 5]

scripts/bench-torch-overhead.sh runs it next to strata-perf (the C++ API)
on the same ranks and prints the differences.
"""

import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.distributed as dist
from mpi4py import MPI

import strata
import strata.torch  # noqa: F401


def median_us(call, iters):
    for _ in range(50):
        call()
    samples = []
    for _ in range(iters):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    world = MPI.COMM_WORLD
    rank, size = world.Get_rank(), world.Get_size()
    port = world.bcast(np.random.default_rng().integers(20000, 40000) if rank == 0 else None)
    store = dist.TCPStore("127.0.0.1", int(port), size, rank == 0)
    dist.init_process_group("gloo", store=store, rank=rank, world_size=size)
    strata_group = dist.new_group(backend="strata")
    comm = strata.Communicator.from_mpi(world)
    tensor = torch.ones(1)
    array = np.ones(1, np.float32)
    contenders = {
        "torch strata": lambda: dist.all_reduce(tensor, group=strata_group),
        "numpy strata": lambda: comm.all_reduce(array),
        "torch gloo": lambda: dist.all_reduce(tensor),
    }
    results = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, call in contenders.items():
            world.Barrier()
            results[name].append(median_us(call, args.iters))
    if rank == 0:
        summary = {name: statistics.median(values) for name, values in results.items()}
        for name, value in summary.items():
            print(f"{name:14s} {value:9.1f} us  (rounds: {', '.join(f'{v:.1f}' for v in results[name])})")
        if args.json:
            with open(args.json, "w") as out:
                json.dump({"ranks": size, "iters": args.iters, "median_us": summary, "rounds_us": results}, out)
    comm.destroy()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
