"""torchrun launches ranks that use the "strata" backend through env://."""

import os
import socket
import subprocess
import sys

import pytest

pytest.importorskip("torch")
HERE = os.path.dirname(os.path.abspath(__file__))


def torchrun_stdio_workaround(nproc):
    """Debian's torch 1.13 on Python 3.11 cannot parse torchrun's default
    --redirects/--tee "0" (IntFlag iteration skips NONE), so name them per rank."""
    mapping = ",".join(f"{rank}:1" for rank in range(nproc))
    return [f"--redirects={mapping}", f"--tee={mapping}"]


def test_torchrun_two_ranks(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
               f"--master_port={port}", f"--log_dir={tmp_path}", *torchrun_stdio_workaround(2), os.path.join(HERE, "ranks", "torchrun_rank.py")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, STRATA_TIMEOUT="60", OMP_NUM_THREADS="1"))
    assert done.returncode == 0, done.stdout + done.stderr
    for rank in range(2):
        assert f"torchrun rank {rank} of 2: ok" in done.stdout
