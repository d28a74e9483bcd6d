"""Strata: collective communication for jobs that span several data centers.

    import numpy as np, strata
    comm = strata.Communicator.from_mpi()          # or from_env(), or (nranks, rank, uid)
    x = np.full(1024, comm.rank, dtype=np.float32)
    comm.all_reduce(x)                             # in place; op="sum" by default
    with strata.group():                           # send/recv pairs without deadlock
        comm.send(x, (comm.rank + 1) % comm.size)
        comm.recv(y, (comm.rank - 1) % comm.size)

`import strata.torch` registers the torch.distributed backend "strata".
See python-bindings/README.md.
"""

from __future__ import annotations

from . import _strata
from ._communicator import COLLECTIVES, Communicator, Handle
from ._strata import ErrorFeedback
from ._errors import (AbortedError, CudaError, Error, InternalError, InvalidArgumentError, InvalidUsageError,
                      RemoteError, SystemError_, TimeoutError)
from ._groups import group, group_end, group_start

__version__ = "0.1.0"

OPS = ("sum", "prod", "max", "min", "avg", "premul_sum")


def get_unique_id(ifname: str = "") -> bytes:
    """128 picklable bytes naming a rendezvous root this process starts; hand
    them to every rank's Communicator(nranks, rank, unique_id). `ifname`
    (NCCL_SOCKET_IFNAME syntax) picks the interface; default STRATA_SOCKET_IFNAME."""
    return _strata.get_unique_id(ifname)


def config() -> list[dict]:
    """Every STRATA_* variable: name, type, value, default, help, choices."""
    return _strata.config()


def reload_config() -> None:
    """Re-reads STRATA_* variables after os.environ changed."""
    _strata.reload_config()


def metrics_text() -> str:
    """This process's telemetry in Prometheus text format: per link and per collective
    counters of every live communicator made with STRATA_METRICS (or
    STRATA_METRICS_PORT, STRATA_TRACE) set; docs/telemetry.md."""
    return _strata.metrics_text()


__all__ = ["AbortedError", "COLLECTIVES", "Communicator", "CudaError", "Error", "ErrorFeedback", "Handle", "InternalError",
           "InvalidArgumentError", "InvalidUsageError", "OPS", "RemoteError", "SystemError_", "TimeoutError",
           "config", "get_unique_id", "group", "group_end", "group_start", "metrics_text", "reload_config"]
