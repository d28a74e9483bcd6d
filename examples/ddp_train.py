#!/usr/bin/python3
"""Train a small model with DistributedDataParallel over the "strata" backend.

One machine, 4 ranks:
    PYTHONPATH=build/python /usr/bin/python3 examples/ddp_train.py --spawn 4
Under torchrun (Debian 12 needs the --redirects/--tee spelling, see
python-bindings/README.md):
    PYTHONPATH=build/python /usr/bin/python3 -m torch.distributed.run --nproc_per_node=4 \\
        --redirects=0:1,1:1,2:1,3:1 --tee=0:1,1:1,2:1,3:1 --log_dir=/tmp/ddp examples/ddp_train.py
On the emulated sites (2 sites x 2 ranks, 20 ms apart; as root):
    build/bin/strata-sites up --sites 2 --default rtt=20ms,rate=1gbit
    PYTHONPATH=build/python build/bin/strata-sites run -k 2 -- \\
        /usr/bin/python3 examples/ddp_train.py --master-addr 198.18.0.1
    build/bin/strata-sites down
(ranks then come from Open MPI's environment; STRATA_SOCKET_IFNAME=wan0 keeps
the rendezvous on the emulated network.)
"""

import argparse
import os
import tempfile

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

import strata.torch  # noqa: F401 (registers the backend "strata")


def train(rank, size, init_method, steps):
    dist.init_process_group("strata", init_method=init_method, rank=rank, world_size=size)
    torch.manual_seed(0)  # every replica starts from the same weights
    model = DDP(torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1)))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.Generator().manual_seed(rank)  # each rank its own shard
    target = torch.nn.Linear(64, 1)  # the function to learn, the same on every rank (seed 0 above)
    for step in range(steps):
        x = torch.randn(128, 64, generator=data)
        with torch.no_grad():
            y = target(x)
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()  # gradients all-reduced by strata, overlapping the backward pass
        optimizer.step()
        if rank == 0 and step % max(1, steps // 5) == 0:
            print(f"step {step:4d}  loss {loss.item():.4f}", flush=True)
    if rank == 0:
        print(f"trained on {size} ranks over backend {dist.get_backend()}", flush=True)
    dist.destroy_process_group()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spawn", type=int, help="start this many ranks on this machine")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--master-addr", help="with Open MPI's ranks: rank 0's address")
    args = parser.parse_args()
    if args.spawn:
        store = os.path.join(tempfile.mkdtemp(), "store")
        torch.multiprocessing.spawn(train, args=(args.spawn, f"file://{store}", args.steps), nprocs=args.spawn)
    elif "OMPI_COMM_WORLD_RANK" in os.environ:
        os.environ.setdefault("STRATA_SOCKET_IFNAME", "wan0")
        rank, size = int(os.environ["OMPI_COMM_WORLD_RANK"]), int(os.environ["OMPI_COMM_WORLD_SIZE"])
        train(rank, size, f"tcp://{args.master_addr or '127.0.0.1'}:29511", args.steps)
    else:
        train(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), "env://", args.steps)


if __name__ == "__main__":
    main()
