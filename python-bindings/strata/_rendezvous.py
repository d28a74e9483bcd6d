"""Ways for the ranks of a job to find each other: an mpi4py communicator,
or the environment torchrun (and torch.distributed's env://) sets."""

from __future__ import annotations

import os
import zlib
from typing import Any

from . import _strata
from ._errors import invalid_argument


def from_mpi(cls: Any, comm: Any, *, name: str, timeout: float, compression: str = "") -> Any:
    """Rank 0 of the mpi4py communicator makes a unique id and broadcasts it."""
    if comm is None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    unique_id = _strata.get_unique_id() if comm.Get_rank() == 0 else None
    unique_id = comm.bcast(unique_id, root=0)
    return cls(comm.Get_size(), comm.Get_rank(), unique_id, name=name, timeout=timeout, compression=compression)


def _env_int(name: str, rank: Any) -> int:
    value = os.environ.get(name)
    if value is None:
        raise invalid_argument(f"{name} is not set (from_env needs MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE)",
                               rank=rank, operation="from_env")
    try:
        return int(value)
    except ValueError:
        raise invalid_argument(f"{name}={value!r} is not an integer", rank=rank, operation="from_env") from None


def env_rendezvous() -> tuple[str, int, int, int]:
    """(MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE), checked."""
    rank = _env_int("RANK", None)
    size = _env_int("WORLD_SIZE", rank)
    port = _env_int("MASTER_PORT", rank)
    host = os.environ.get("MASTER_ADDR")
    if not host:
        raise invalid_argument("MASTER_ADDR is not set", rank=rank, operation="from_env")
    return host, port, rank, size


def strata_port(master_port: int) -> int:
    """The port Strata's root listens on: STRATA_ROOT_PORT, else MASTER_PORT + 1.
    MASTER_PORT itself is torch's store under torchrun, so Strata stays off it."""
    configured = {entry["name"]: entry["value"] for entry in _strata.config()}["STRATA_ROOT_PORT"]
    return int(configured) if int(configured) > 0 else master_port + 1


def from_env(cls: Any, *, name: str, timeout: float, compression: str = "") -> Any:
    host, master_port, rank, size = env_rendezvous()
    port = strata_port(master_port)
    # Every rank derives the same session key; a stray process from another
    # job on the same port presents a different one and is refused.
    key = zlib.crc32(f"{host}:{master_port}:{size}:{os.environ.get('TORCHELASTIC_RUN_ID', '')}".encode())
    unique_id = _strata.unique_id_at(host, port, key)
    if rank == 0:
        _strata.start_root_for(unique_id, timeout)
    return cls(size, rank, unique_id, name=name, timeout=timeout, compression=compression)
