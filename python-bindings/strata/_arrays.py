"""Turning user buffers into what the native layer takes: a C-contiguous
NumPy array (sharing the caller's memory), a Strata dtype name, and the
reduction to apply. NumPy dtypes the engine does not reduce natively are
mapped here: bool as uint8 (sum/max as logical or, prod/min as logical and),
int16/uint16 widened to 32 bits for the reduction and narrowed back (sums and
products wrap exactly as in 16 bits), complex as pairs of floats (sum, avg,
premul_sum). Moving collectives (broadcast, gather, ...) move any dtype as
bytes."""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from ._errors import invalid_argument

# NumPy kind + itemsize -> Strata's name for it.
_NATIVE = {
    ("i", 1): "int8", ("u", 1): "uint8", ("i", 4): "int32", ("u", 4): "uint32",
    ("i", 8): "int64", ("u", 8): "uint64",
    ("f", 2): "half", ("f", 4): "float", ("f", 8): "double",
}
# Explicit dtypes NumPy has no type for, by every name users write them.
EXPLICIT = {
    "bfloat16": ("bfloat16", 2), "bf16": ("bfloat16", 2),
    "float8_e4m3": ("f8e4m3", 1), "float8_e4m3fn": ("f8e4m3", 1), "f8e4m3": ("f8e4m3", 1),
    "float8_e5m2": ("f8e5m2", 1), "f8e5m2": ("f8e5m2", 1),
}
SIZES = {"int8": 1, "uint8": 1, "int32": 4, "uint32": 4, "int64": 8, "uint64": 8, "half": 2, "float": 4,
         "double": 8, "bfloat16": 2, "f8e4m3": 1, "f8e5m2": 1}
OPS = ("sum", "prod", "max", "min", "avg", "premul_sum")


def _writable_alias(array: np.ndarray) -> np.ndarray:
    """A writable array over the same memory as a read-only DLPack import
    (DLPack has no read-only flag; NumPy marks its imports read-only)."""
    buffer = (ctypes.c_char * array.nbytes).from_address(array.__array_interface__["data"][0])
    buffer.owner = array  # the alias keeps `buffer` alive, and `buffer` the import that owns the memory
    return np.frombuffer(buffer, dtype=array.dtype).reshape(array.shape)


def as_array(obj: Any, name: str, *, writable: bool, rank: int, operation: str) -> np.ndarray:
    """`obj` (ndarray, buffer protocol, DLPack, torch CPU tensor) as a
    C-contiguous ndarray sharing its memory."""
    if isinstance(obj, np.ndarray):
        array = obj
    elif type(obj).__module__.startswith("torch") and hasattr(obj, "numpy"):
        if getattr(obj, "device", None) is not None and obj.device.type != "cpu":
            raise invalid_argument(f"{name} is a {obj.device.type} tensor; the NumPy API takes host memory "
                                   "(use the torch backend for device tensors)", rank=rank, operation=operation)
        array = obj.detach().numpy()
    elif hasattr(obj, "__dlpack__") and not _has_buffer(obj):
        try:
            array = np.from_dlpack(obj)
        except (TypeError, RuntimeError, BufferError) as error:
            raise invalid_argument(f"{name}: DLPack import failed: {error}", rank=rank, operation=operation) from None
        if writable and not array.flags.writeable:
            array = _writable_alias(array)
    else:
        try:
            array = np.asarray(memoryview(obj))
        except TypeError:
            raise invalid_argument(f"{name} ({type(obj).__name__}) has neither the buffer protocol nor DLPack",
                                   rank=rank, operation=operation) from None
    if not array.flags.c_contiguous:
        raise invalid_argument(f"{name} is not C-contiguous (numpy.ascontiguousarray makes a copy that is)",
                               rank=rank, operation=operation)
    if writable and not array.flags.writeable:
        raise invalid_argument(f"{name} is read-only, but the operation writes it", rank=rank, operation=operation)
    if array.dtype.hasobject:
        raise invalid_argument(f"{name} holds Python objects (dtype {array.dtype}); Strata moves fixed-size data",
                               rank=rank, operation=operation)
    return array


def _has_buffer(obj: Any) -> bool:
    try:
        memoryview(obj)
        return True
    except TypeError:
        return False


@dataclass
class Reduction:
    """How one reduction runs: on which arrays, with which native dtype and
    op, and what to copy back afterwards."""

    send: np.ndarray
    recv: np.ndarray
    dtype: str
    op: str
    finish: str = "none"
    scalar: float = 0.0
    after: Optional[Callable[[], None]] = None


def element_dtype(array: np.ndarray, explicit: Optional[str], *, rank: int, operation: str) -> tuple[str, int]:
    """(Strata dtype, element size) for moving or reducing `array`'s data."""
    if explicit is not None:
        if explicit not in EXPLICIT:
            if np.dtype(explicit) != array.dtype:
                raise invalid_argument(f"dtype={explicit!r} but the buffer holds {array.dtype}; pass a matching "
                                       f"array or one of {sorted(set(EXPLICIT))}", rank=rank, operation=operation)
            return element_dtype(array, None, rank=rank, operation=operation)
        native, size = EXPLICIT[explicit]
        if array.dtype.itemsize != size:
            raise invalid_argument(f"dtype={explicit!r} needs {size}-byte elements, the buffer's {array.dtype} has "
                                   f"{array.dtype.itemsize}", rank=rank, operation=operation)
        return native, size
    key = (array.dtype.kind, array.dtype.itemsize)
    if key in _NATIVE:
        return _NATIVE[key], array.dtype.itemsize
    return "", array.dtype.itemsize  # not reducible natively; movable as bytes


def native_dtype_name(dtype: Any, *, rank: int, operation: str) -> str:
    """Strata's name for a NumPy dtype, or for one of the explicit names."""
    if isinstance(dtype, str) and dtype in EXPLICIT:
        return EXPLICIT[dtype][0]
    if isinstance(dtype, str) and dtype in SIZES:
        return dtype
    try:
        numpy_dtype = np.dtype(dtype)
    except TypeError:
        raise invalid_argument(f"dtype {dtype!r} is not a NumPy dtype", rank=rank, operation=operation) from None
    name = _NATIVE.get((numpy_dtype.kind, numpy_dtype.itemsize))
    if name is None:
        raise invalid_argument(f"dtype {numpy_dtype} has no native Strata type", rank=rank, operation=operation)
    return name


def plan_reduction(send: np.ndarray, recv: np.ndarray, op: str, explicit: Optional[str], scalar: Optional[float],
                   *, rank: int, operation: str) -> Reduction:
    """The native reduction for `op` on these arrays (see the module doc)."""
    if op not in OPS:
        raise invalid_argument(f"op={op!r} is not one of {', '.join(OPS)}", rank=rank, operation=operation)
    if op == "premul_sum" and scalar is None:
        raise invalid_argument("op='premul_sum' needs scalar=", rank=rank, operation=operation)
    if send.dtype != recv.dtype:
        raise invalid_argument(f"send is {send.dtype} but recv is {recv.dtype}", rank=rank, operation=operation)
    native, _ = element_dtype(send, explicit, rank=rank, operation=operation)
    kind = send.dtype.kind
    if native:
        return _finish(Reduction(send, recv, native, op), op, scalar)
    if kind == "b":
        if op in ("avg", "premul_sum"):
            raise invalid_argument(f"op={op!r} is not defined for bool", rank=rank, operation=operation)
        logical = {"sum": "max", "max": "max", "prod": "min", "min": "min"}[op]
        return Reduction(send.view(np.uint8), recv.view(np.uint8), "uint8", logical)
    if kind in "iu" and send.dtype.itemsize == 2:
        wide = np.dtype(f"{kind}4")
        work_send = send.astype(wide)
        work_recv = work_send if recv is send else np.empty(recv.shape, wide)
        reduction = _finish(Reduction(work_send, work_recv, _NATIVE[(kind, 4)], op), op, scalar)
        reduction.after = lambda: np.copyto(recv, work_recv, casting="unsafe")
        return reduction
    if kind == "c":
        if op not in ("sum", "avg", "premul_sum") or (op == "premul_sum" and isinstance(scalar, complex)):
            raise invalid_argument(f"op={op!r} is not defined element-wise for complex (sum, avg and a real "
                                   "premul_sum are)", rank=rank, operation=operation)
        part = np.dtype(f"f{send.dtype.itemsize // 2}")
        return _finish(Reduction(send.view(part), recv.view(part), _NATIVE[("f", part.itemsize)], op), op, scalar)
    raise invalid_argument(f"dtype {send.dtype} cannot be reduced (bool, integers, float16/32/64, complex, and "
                           "bfloat16/fp8 by dtype= can)", rank=rank, operation=operation)


def _finish(reduction: Reduction, op: str, scalar: Optional[float]) -> Reduction:
    if op == "avg":
        reduction.op, reduction.finish = "sum", "divide"
    elif op == "premul_sum":
        reduction.op, reduction.finish, reduction.scalar = "sum", "multiply", float(scalar)
    return reduction
