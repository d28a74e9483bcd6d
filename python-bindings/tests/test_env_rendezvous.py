"""Communicator.from_env(): MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE, as
torchrun sets them, with no store and no MPI."""

import os
import socket
import subprocess
import sys

import pytest

import strata

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_three_processes_meet_through_the_environment():
    port = free_port() - 1  # Strata's root listens on MASTER_PORT + 1
    procs = []
    for rank in range(3):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="3",
                   STRATA_TIMEOUT="30")
        procs.append(subprocess.Popen([sys.executable, os.path.join(HERE, "ranks", "env_rank.py")], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [proc.communicate(timeout=90)[0] for proc in procs]
    for rank, (proc, output) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0, output
        assert f"rank {rank} of 3: sum 6" in output


def test_missing_variables_are_named(monkeypatch):
    for name in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(strata.InvalidArgumentError, match="RANK is not set"):
        strata.Communicator.from_env()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(strata.InvalidArgumentError, match="WORLD_SIZE='two' is not an integer"):
        strata.Communicator.from_env()
