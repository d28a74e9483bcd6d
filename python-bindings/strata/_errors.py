"""Strata's exceptions. Each carries the error code, the rank that saw it,
the peer involved (when one was) and the operation, as attributes."""

from __future__ import annotations

import builtins


class Error(RuntimeError):
    """Base of every error Strata raises."""

    code = "internal"

    def __init__(self, message: str, *, code: str | None = None, rank: int | None = None,
                 peer: int | None = None, operation: str = ""):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.rank = rank
        self.peer = peer
        self.operation = operation


class InvalidArgumentError(Error, ValueError):
    """An argument was wrong: dtype, shape, size, root, peer, contiguity."""

    code = "invalid_argument"


class InvalidUsageError(Error):
    """A call in the wrong state: a destroyed communicator, async inside a group."""

    code = "invalid_usage"


class SystemError_(Error):  # noqa: N801 (the builtin SystemError means an interpreter bug)
    """The operating system or a library failed."""

    code = "system"


class InternalError(Error):
    """A bug in Strata."""

    code = "internal"


class RemoteError(Error):
    """A peer failed or went away."""

    code = "remote"


class TimeoutError(Error, builtins.TimeoutError):  # noqa: A001
    """A wait ran past the communicator's timeout (STRATA_TIMEOUT)."""

    code = "timeout"


class AbortedError(Error):
    """The communicator was aborted."""

    code = "aborted"


class CudaError(Error):
    """A CUDA call failed."""

    code = "cuda"


_BY_CODE = {cls.code: cls for cls in (InvalidArgumentError, InvalidUsageError, SystemError_, InternalError,
                                      RemoteError, TimeoutError, AbortedError, CudaError)}


def error_class(code: str) -> type[Error]:
    """The exception class for a native error code (used by the C++ layer)."""
    return _BY_CODE.get(code, Error)


def invalid_argument(message: str, *, rank: int | None = None, operation: str = "") -> InvalidArgumentError:
    """An InvalidArgumentError worded like the native ones."""
    where = f" in {operation}" if operation else ""
    where += f" on rank {rank}" if rank is not None else ""
    return InvalidArgumentError(f"strata: invalid argument{where}: {message}", rank=rank, operation=operation)
