"""strata.Communicator: every collective of the C++ API on NumPy arrays and
anything with the buffer protocol or DLPack, in place and out of place,
synchronous or async (a Handle with wait()/done()). The GIL is released
while an operation runs."""

from __future__ import annotations

import concurrent.futures
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np

from . import _strata
from ._arrays import SIZES, as_array, native_dtype_name, plan_reduction
from ._errors import InvalidUsageError, TimeoutError, invalid_argument
from ._groups import defer_in_group, in_group

# Python names of the collectives -> the native ones.
COLLECTIVES = {"all_reduce": "allreduce", "broadcast": "broadcast", "reduce": "reduce",
               "all_gather": "allgather", "reduce_scatter": "reducescatter", "all_to_all": "alltoall",
               "gather": "gather", "scatter": "scatter", "send": "send", "recv": "recv"}


@dataclass
class _Call:
    """One user call: the native operations, what to copy back after them,
    what to return, and the arrays that must stay alive until it is done."""

    operation: str
    native: list = field(default_factory=list)
    after: Optional[Callable[[], None]] = None
    result: Any = None


class Handle:
    """An operation in flight. wait() returns its result or raises its error."""

    def __init__(self, future: concurrent.futures.Future, operation: str, rank: int):
        self._future = future
        self._operation = operation
        self._rank = rank

    def wait(self, timeout: Optional[float] = None) -> Any:
        """Blocks until done (at most `timeout` seconds: then TimeoutError,
        and the operation goes on). Returns what the synchronous call returns."""
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"strata: timeout in {self._operation} on rank {self._rank}: not done within "
                               f"{timeout} s (still running)", rank=self._rank, operation=self._operation) from None

    def done(self) -> bool:
        return self._future.done()

    def exception(self) -> Optional[BaseException]:
        """The error, once done; None on success."""
        return self._future.exception() if self._future.done() else None


class Communicator:
    """One rank's handle on a group of ranks.

    Create one from a unique id (strata.get_unique_id() on one process,
    handed to all), with Communicator.from_mpi(), or with
    Communicator.from_env() (MASTER_ADDR/MASTER_PORT/RANK/WORLD_SIZE).
    """

    def __init__(self, nranks: int, rank: int, unique_id: bytes, *, name: str = "", timeout: float = 0.0,
                 compression: str = ""):
        if not isinstance(unique_id, (bytes, bytearray)):
            raise invalid_argument(f"unique_id must be the bytes of strata.get_unique_id(), not "
                                   f"{type(unique_id).__name__}", rank=rank, operation="Communicator")
        self._init(_strata.Communicator(int(nranks), int(rank), bytes(unique_id), name, float(timeout),
                                        str(compression)))

    def _init(self, native: Any) -> None:
        self._native = native
        self._rank = native.rank
        self._lock = threading.Lock()
        self._executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._last: Optional[concurrent.futures.Future] = None

    @classmethod
    def _wrap(cls, native: Any) -> "Communicator":
        comm = cls.__new__(cls)
        comm._init(native)
        return comm

    @classmethod
    def local(cls, nranks: int, *, name: str = "") -> list["Communicator"]:
        """All `nranks` ranks inside this process (one per thread), like ncclCommInitAll."""
        return [cls._wrap(native) for native in _strata.Communicator.local(int(nranks), name)]

    @classmethod
    def from_mpi(cls, comm: Any = None, *, name: str = "", timeout: float = 0.0,
                 compression: str = "") -> "Communicator":
        """The ranks of an mpi4py communicator (default MPI.COMM_WORLD)."""
        from ._rendezvous import from_mpi
        return from_mpi(cls, comm, name=name, timeout=timeout, compression=compression)

    @classmethod
    def from_env(cls, *, name: str = "", timeout: float = 0.0, compression: str = "") -> "Communicator":
        """Rendezvous as torchrun sets it up: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE."""
        from ._rendezvous import from_env
        return from_env(cls, name=name, timeout=timeout, compression=compression)

    # -- state ---------------------------------------------------------------
    @property
    def rank(self) -> int:
        return self._rank

    @property
    def size(self) -> int:
        return self._native.size

    @property
    def name(self) -> str:
        return self._native.name

    @property
    def timeout(self) -> float:
        """Longest wait of one operation, in seconds."""
        return self._native.timeout

    @property
    def closed(self) -> bool:
        return self._native.closed

    def abort(self) -> None:
        """Every pending and later operation fails with AbortedError; safe from any thread."""
        self._native.abort()

    def destroy(self) -> None:
        """Waits for async operations, then releases the communicator. Idempotent."""
        if self._native.closed:
            return
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
            self._native.destroy()

    def __enter__(self) -> "Communicator":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is not None and not self._native.closed:
            self._native.abort()  # peers may be waiting on a call this rank will not make
        self.destroy()

    def __repr__(self) -> str:
        if self._native.closed:
            return f"<strata.Communicator rank {self._rank} (destroyed)>"
        return f"<strata.Communicator '{self.name}' rank {self.rank} of {self.size}>"

    @property
    def compression(self) -> str:
        """The inter-site wire format in force, e.g. 'int8 (calls from 1048576 bytes, ...)' or 'none'."""
        return self._native.compression

    def split(self, color: int, key: Optional[int] = None, *, name: str = "",
              timeout: float = 0.0, compression: str = "") -> Optional["Communicator"]:
        """Collective: ranks with the same color form a new communicator ordered
        by (key, rank); a negative color returns None. `compression` sets the
        child's inter-site wire format (docs/compression.md); "" inherits."""
        child = self._call_now(lambda: self._native.split(int(color), self._rank if key is None else int(key),
                                                         name, float(timeout), str(compression)))
        return None if child is None else Communicator._wrap(child)

    def revoke(self) -> None:
        """Pending operations fail (AbortedError) and later ones raise
        InvalidUsageError; shrink() and destroy() remain. Safe from any thread."""
        self._native.revoke()

    @property
    def revoked(self) -> bool:
        return self._native.revoked

    def shrink(self, exclude: Sequence[int], *, abort_pending: bool = False, name: str = "",
               timeout: float = 0.0) -> "Communicator":
        """The survivors' communicator without the ranks in `exclude`: every
        other rank calls it with the same list (the excluded ones do not; they
        may be dead). Works on a failed communicator; ranks keep their order.
        abort_pending revokes this one first, so that its pending async
        operations fail instead of being waited for (ncclCommShrink's
        NCCL_SHRINK_ABORT)."""
        excluded = [int(r) for r in exclude]
        if abort_pending:
            self._native.revoke()
        child = self._call_now(lambda: self._native.shrink(excluded, name, float(timeout)))
        return Communicator._wrap(child)

    # -- introspection -------------------------------------------------------
    def topology(self) -> dict:
        """Ranks (host, node, site), sites and the link model, as measured or assumed."""
        return self._native.topology()

    def plan(self, collective: str, count: int, dtype: Any = "float32", op: str = "sum", root: int = 0) -> dict:
        """What the planner would choose: {'algorithm', 'predicted_seconds', 'reason'}."""
        native = COLLECTIVES.get(collective, collective)
        name = native_dtype_name(dtype, rank=self._rank, operation="plan")
        reduce_op = {"avg": "sum", "premul_sum": "sum"}.get(op, op)
        return self._native.plan(native, int(count), name, reduce_op, int(root))

    def explain(self, collective: str, count: int, dtype: Any = "float32", op: str = "sum", root: int = 0) -> str:
        """plan() as one line of text."""
        choice = self.plan(collective, count, dtype, op, root)
        return (f"{collective} of {count} x {dtype}: {choice['algorithm']}, predicted "
                f"{choice['predicted_seconds'] * 1e3:.3f} ms ({choice['reason']})")

    # -- collectives ---------------------------------------------------------
    def all_reduce(self, send: Any, recv: Any = None, op: str = "sum", *, dtype: Optional[str] = None,
                   scalar: Optional[float] = None, async_op: bool = False,
                   error_feedback: Optional["ErrorFeedback"] = None) -> Any:
        """Element-wise reduction across ranks into recv (default: in place in send).
        error_feedback: a strata.ErrorFeedback, one per tensor, that carries what a
        lossy inter-site wire format lost into the next call (docs/compression.md)."""
        s, r = self._pair(send, recv, "all_reduce")
        self._same_size(s, r, "all_reduce")
        if error_feedback is not None and not isinstance(error_feedback, _strata.ErrorFeedback):
            raise invalid_argument(f"error_feedback must be a strata.ErrorFeedback, not {type(error_feedback).__name__}",
                                   rank=self._rank, operation="all_reduce")
        return self._reduction("all_reduce", s, r, op, dtype, scalar, r, async_op, error_feedback=error_feedback)

    def reduce(self, send: Any, recv: Any = None, op: str = "sum", root: int = 0, *, dtype: Optional[str] = None,
               scalar: Optional[float] = None, async_op: bool = False) -> Any:
        """Reduction into root's recv (default: in place); returns it on root, None elsewhere."""
        s, r = self._pair(send, recv, "reduce")
        self._same_size(s, r, "reduce")
        return self._reduction("reduce", s, r, op, dtype, scalar, r if self._rank == root else None, async_op,
                               root=root)

    def reduce_scatter(self, send: Any, recv: Any = None, op: str = "sum", *, dtype: Optional[str] = None,
                       scalar: Optional[float] = None, async_op: bool = False) -> Any:
        """Reduces send (size blocks) and leaves block `rank` in recv (new if None)."""
        s = self._array(send, "send", False, "reduce_scatter")
        if s.size % self.size:
            raise invalid_argument(f"send has {s.size} elements, not a multiple of the {self.size} ranks",
                                   rank=self._rank, operation="reduce_scatter")
        r = np.empty(_block_shape(s, self.size), s.dtype) if recv is None else \
            self._array(recv, "recv", True, "reduce_scatter")
        if r.nbytes * self.size != s.nbytes:
            raise invalid_argument(f"recv holds {r.nbytes} bytes; send's {s.nbytes} over {self.size} ranks is "
                                   f"{s.nbytes // self.size}", rank=self._rank, operation="reduce_scatter")
        return self._reduction("reduce_scatter", s, r, op, dtype, scalar, r, async_op)

    def broadcast(self, send: Any, recv: Any = None, root: int = 0, *, async_op: bool = False) -> Any:
        """root's send into every rank's recv (default: in place in send)."""
        s, r = self._pair(send, recv, "broadcast")
        self._same_size(s, r, "broadcast")
        return self._move("broadcast", s, r, s.nbytes, r, async_op, root=root)

    def all_gather(self, send: Any, recv: Any = None, *, async_op: bool = False) -> Any:
        """Every rank's send, in rank order, into recv (new, shape (size, *send.shape), if None).
        In place when send is recv[rank]."""
        s = self._array(send, "send", False, "all_gather")
        r = np.empty((self.size,) + s.shape, s.dtype) if recv is None else \
            self._array(recv, "recv", True, "all_gather")
        self._blocks(r, s, "all_gather")
        return self._move("all_gather", s, r, s.nbytes, r, async_op)

    def all_to_all(self, send: Any, recv: Any = None, *, async_op: bool = False) -> Any:
        """Block j of send goes to rank j, arriving as block `rank` of its recv."""
        s = self._array(send, "send", False, "all_to_all")
        if s.nbytes % self.size:
            raise invalid_argument(f"send holds {s.nbytes} bytes, not a multiple of the {self.size} ranks",
                                   rank=self._rank, operation="all_to_all")
        r = np.empty_like(s) if recv is None else self._array(recv, "recv", True, "all_to_all")
        self._same_size(s, r, "all_to_all")
        return self._move("all_to_all", s, r, s.nbytes // self.size, r, async_op)

    def gather(self, send: Any, recv: Any = None, root: int = 0, *, async_op: bool = False) -> Any:
        """Every rank's send into root's recv (new if None); returns it on root, None elsewhere."""
        s = self._array(send, "send", False, "gather")
        r = None
        if self._rank == root:
            r = np.empty((self.size,) + s.shape, s.dtype) if recv is None else \
                self._array(recv, "recv", True, "gather")
            self._blocks(r, s, "gather")
        return self._move("gather", s, r, s.nbytes, r, async_op, root=root)

    def scatter(self, send: Any, recv: Any, root: int = 0, *, async_op: bool = False) -> Any:
        """Block j of root's send into rank j's recv (every rank passes recv)."""
        r = self._array(recv, "recv", True, "scatter")
        s = None
        if self._rank == root:
            s = self._array(send, "send", False, "scatter")
            self._blocks(s, r, "scatter", outer="send")
        return self._move("scatter", s, r, r.nbytes, r, async_op, root=root)

    def send(self, buffer: Any, peer: int, *, async_op: bool = False) -> None:
        """buffer to rank `peer`, matched by its recv (in a group for both directions)."""
        s = self._array(buffer, "buffer", False, "send")
        return self._move("send", s, None, s.nbytes, None, async_op, root=peer)

    def recv(self, buffer: Any, peer: int, *, async_op: bool = False) -> Any:
        """From rank `peer` into buffer; returns buffer."""
        r = self._array(buffer, "buffer", True, "recv")
        return self._move("recv", None, r, r.nbytes, r, async_op, root=peer)

    def barrier(self, *, async_op: bool = False) -> None:
        """Returns once every rank has entered the barrier."""
        if in_group():
            raise InvalidUsageError("strata: invalid usage in barrier: not inside a group", rank=self._rank,
                                    operation="barrier")
        return self._dispatch(_Call("barrier"), async_op, barrier=True)

    # -- the *_async spellings -----------------------------------------------
    def all_reduce_async(self, *args, **kwargs) -> Handle:
        return self.all_reduce(*args, async_op=True, **kwargs)

    def reduce_async(self, *args, **kwargs) -> Handle:
        return self.reduce(*args, async_op=True, **kwargs)

    def reduce_scatter_async(self, *args, **kwargs) -> Handle:
        return self.reduce_scatter(*args, async_op=True, **kwargs)

    def broadcast_async(self, *args, **kwargs) -> Handle:
        return self.broadcast(*args, async_op=True, **kwargs)

    def all_gather_async(self, *args, **kwargs) -> Handle:
        return self.all_gather(*args, async_op=True, **kwargs)

    def all_to_all_async(self, *args, **kwargs) -> Handle:
        return self.all_to_all(*args, async_op=True, **kwargs)

    def gather_async(self, *args, **kwargs) -> Handle:
        return self.gather(*args, async_op=True, **kwargs)

    def scatter_async(self, *args, **kwargs) -> Handle:
        return self.scatter(*args, async_op=True, **kwargs)

    def send_async(self, *args, **kwargs) -> Handle:
        return self.send(*args, async_op=True, **kwargs)

    def recv_async(self, *args, **kwargs) -> Handle:
        return self.recv(*args, async_op=True, **kwargs)

    def barrier_async(self) -> Handle:
        return self.barrier(async_op=True)

    # -- helpers -------------------------------------------------------------
    def _array(self, obj: Any, name: str, writable: bool, operation: str) -> np.ndarray:
        if obj is None:
            raise invalid_argument(f"{name} is None", rank=self._rank, operation=operation)
        return as_array(obj, name, writable=writable, rank=self._rank, operation=operation)

    def _pair(self, send: Any, recv: Any, operation: str):
        """(send, recv) arrays; recv None means in place in send."""
        s = self._array(send, "send", recv is None, operation)
        r = s if recv is None else self._array(recv, "recv", True, operation)
        return s, r

    def _same_size(self, s: np.ndarray, r: np.ndarray, operation: str) -> None:
        if s.nbytes != r.nbytes:
            raise invalid_argument(f"send holds {s.nbytes} bytes but recv {r.nbytes}", rank=self._rank,
                                   operation=operation)

    def _blocks(self, whole: np.ndarray, block: np.ndarray, operation: str, outer: str = "recv") -> None:
        inner = "send" if outer == "recv" else "recv"
        if whole.nbytes != block.nbytes * self.size:
            raise invalid_argument(f"{outer} holds {whole.nbytes} bytes, {self.size} ranks x {inner}'s "
                                   f"{block.nbytes} is {block.nbytes * self.size}", rank=self._rank,
                                   operation=operation)

    def _reduction(self, operation, s, r, op, dtype, scalar, result, async_op, root=0, error_feedback=None):
        plan = plan_reduction(s, r, op, dtype, scalar, rank=self._rank, operation=operation)
        count = plan.recv.nbytes // SIZES[plan.dtype]  # reduce_scatter: the elements each rank keeps
        call = _Call(operation, after=plan.after, result=result)
        call.native.append(dict(collective=COLLECTIVES[operation], send=plan.send, recv=plan.recv, count=count,
                                dtype=plan.dtype, op=plan.op, root=int(root), finish=plan.finish,
                                divisor=self.size, scalar=plan.scalar, error_feedback=error_feedback))
        return self._dispatch(call, async_op)

    def _move(self, operation, s, r, count_bytes, result, async_op, root=0):
        call = _Call(operation, result=result)
        call.native.append(dict(collective=COLLECTIVES[operation], send=s, recv=r, count=int(count_bytes),
                                dtype="uint8", root=int(root)))
        return self._dispatch(call, async_op)

    def _run(self, call: _Call, barrier: bool = False) -> Any:
        if barrier:
            self._native.barrier()
        for native in call.native:
            self._native.run(**native)
        if call.after is not None:
            call.after()
        return call.result

    def _dispatch(self, call: _Call, async_op: bool, barrier: bool = False) -> Any:
        if in_group():
            if async_op:
                raise InvalidUsageError(f"strata: invalid usage in {call.operation} on rank {self._rank}: async_op "
                                        "inside a group (the group's end is where it completes)",
                                        rank=self._rank, operation=call.operation)
            self._no_pending(call.operation)
            for native in call.native:
                self._native.run(**native)  # queued until the group ends
            defer_in_group(call)
            return call.result
        if async_op:
            with self._lock:
                future = self._ordered().submit(self._run, call, barrier)
                self._last = future
            return Handle(future, call.operation, self._rank)
        return self._call_now(lambda: self._run(call, barrier))

    def _call_now(self, work: Callable[[], Any]) -> Any:
        """Runs `work` on this thread, after (and never beside) pending async operations."""
        with self._lock:
            if self._last is not None and not self._last.done():
                future = self._ordered().submit(work)
                self._last = future
            else:
                return work()
        return future.result()

    def _no_pending(self, operation: str) -> None:
        if self._last is not None and not self._last.done():
            raise InvalidUsageError(f"strata: invalid usage in {operation} on rank {self._rank}: wait for this "
                                    "communicator's async operations before a group", rank=self._rank,
                                    operation=operation)

    def _ordered(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._native.closed:
            raise InvalidUsageError(f"strata: invalid usage on rank {self._rank}: the communicator is destroyed",
                                    rank=self._rank, operation="async")
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1,
                                                                   thread_name_prefix=f"strata-rank{self._rank}")
        return self._executor


def _block_shape(array: np.ndarray, nranks: int) -> tuple:
    if array.ndim >= 1 and array.shape[0] % nranks == 0:
        return (array.shape[0] // nranks,) + array.shape[1:]
    return (array.size // nranks,)
