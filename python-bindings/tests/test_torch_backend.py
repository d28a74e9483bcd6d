"""The torch.distributed backend "strata" across processes: every
collective (ranks/torch_collectives.py) under each way of initialising a
process group, and DistributedDataParallel against gloo."""

import os
import socket
import sys

import pytest

torch = pytest.importorskip("torch")
import torch.multiprocessing as mp  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ranks"))
import torch_collectives  # noqa: E402
import torch_ddp  # noqa: E402


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_every_collective_file_init(tmp_path):
    mp.spawn(torch_collectives.main, args=(4, f"file://{tmp_path}/store"), nprocs=4)


def test_every_collective_tcp_init_three_ranks():
    mp.spawn(torch_collectives.main, args=(3, f"tcp://127.0.0.1:{free_port()}"), nprocs=3)


def test_every_collective_explicit_store_two_ranks():
    mp.spawn(torch_collectives.main, args=(2, f"127.0.0.1:{free_port()}", True), nprocs=2)


def test_ddp_matches_gloo_and_replicas_are_identical(tmp_path):
    mp.spawn(torch_ddp.main, args=(4, f"file://{tmp_path}/store"), nprocs=4)
