"""A stand-in for the `tensorrt` Python module, strict where TensorRT 10 is, for machines without a GPU.

The builder records what it is asked (flags, profile, timing cache) and "serializes" an engine as JSON:
the ONNX it parsed and its optimisation profile. The runtime deserializes that (and nothing else: None,
as TensorRT does for a foreign plan) into an engine whose execution context behaves as TensorRT 10's:
`set_input_shape` returns False for a shape outside the profile (or unlike a static input's),
`set_tensor_address` returns False for a null address, outputs the data sizes are -1 until the engine
runs, then go through the output allocator, and `execute_async_v3` returns False unless every tensor has
an address. It computes with onnxruntime on the ONNX, reading and writing the host memory at the
addresses it was given (the runner's buffers, put on the CPU by the tests).

Each refused shape is also kept in `refused`, so a test can say none happened.
"""

from __future__ import annotations

import ctypes
import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.numpy_helper
import onnxruntime

PLAN_FORMAT = "compressor-test.standin-plan/1"
_ELEMENT_TYPES = {  # ONNX element type -> (DataType name, numpy dtype)
    onnx.TensorProto.FLOAT: ("FLOAT", np.float32),
    onnx.TensorProto.FLOAT16: ("HALF", np.float16),
    onnx.TensorProto.INT64: ("INT64", np.int64),
    onnx.TensorProto.INT32: ("INT32", np.int32),
    onnx.TensorProto.BOOL: ("BOOL", np.bool_),
}


class _Logger:
    WARNING = 2

    def __init__(self, level: int) -> None:
        self.level = level


class _IOutputAllocator:
    def __init__(self) -> None:
        pass


class StandInTensorRT:
    """Use `.module` as `sys.modules["tensorrt"]`; `calls` records the builder's settings in order."""

    def __init__(self, has_precision_flags: bool = True, version: str = "10.3.0") -> None:
        self.calls: list[tuple] = []
        self.refused: list[tuple[str, tuple[int, ...]]] = []
        self.streams: list[int] = []  # the stream handle of each execute_async_v3
        self.accepts_timing_caches = True
        flags = {"FP16": 0, "INT8": 1} if has_precision_flags else {}
        self.module = types.SimpleNamespace(
            __version__=version,
            Logger=_Logger,
            BuilderFlag=types.SimpleNamespace(**flags),
            NetworkDefinitionCreationFlag=types.SimpleNamespace(STRONGLY_TYPED=5),
            MemoryPoolType=types.SimpleNamespace(WORKSPACE="workspace"),
            TensorIOMode=types.SimpleNamespace(INPUT="INPUT", OUTPUT="OUTPUT"),
            DataType=types.SimpleNamespace(**{name: name for name, _ in _ELEMENT_TYPES.values()}),
            IOutputAllocator=_IOutputAllocator,
            Builder=lambda logger: _Builder(self),
            OnnxParser=lambda network, logger: _Parser(self, network),
            Runtime=lambda logger: _Runtime(self),
        )


class _Network:
    def __init__(self) -> None:
        self.onnx_path: str | None = None


class _Parser:
    num_errors = 0

    def __init__(self, owner: StandInTensorRT, network: _Network) -> None:
        self.owner, self.network = owner, network

    def parse(self, data: bytes, path: str) -> bool:
        model = onnx.load_from_string(data)  # what TensorRT cannot read, it does not parse
        self.owner.calls.append(("parsed", path))
        self.errors = _unsupported_quantization(model)
        self.num_errors = len(self.errors)
        self.network.onnx_path = path
        return not self.errors

    def get_error(self, index: int) -> str:
        return self.errors[index]


def _unsupported_quantization(model: onnx.ModelProto) -> list[str]:
    """TensorRT quantizes symmetrically only: a QuantizeLinear with a uint8 or non-zero zero point is refused
    (UINT8 asymmetric quantization exists only behind a DLA parser flag; TensorRT's CHANGELOG, 10.11)."""
    stored = {tensor.name: tensor for tensor in model.graph.initializer}
    errors = []
    for node in model.graph.node:
        zero_point = stored.get(node.input[2]) if node.op_type == "QuantizeLinear" and len(node.input) > 2 else None
        if zero_point is not None and (
            zero_point.data_type == onnx.TensorProto.UINT8 or onnx.numpy_helper.to_array(zero_point).any()
        ):
            errors.append(f"{node.name}: QuantizeLinear: TensorRT supports symmetric quantization only (zero point 0)")
    return errors


class _TimingCache:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def serialize(self) -> bytes:
        return self.data or b"timings"


class _Builder:
    """Builder, builder config and optimisation profile in one: they only record here."""

    def __init__(self, owner: StandInTensorRT) -> None:
        self.owner = owner
        self.profile: dict[str, list[list[int]]] = {}
        self.cache: _TimingCache | None = None

    def create_network(self, flags: int) -> _Network:
        self.owner.calls.append(("network_flags", flags))
        return _Network()

    def create_builder_config(self) -> _Builder:
        return self

    def create_optimization_profile(self) -> _Builder:
        return self

    def set_shape(self, name: str, low: list[int], opt: list[int], high: list[int]) -> None:
        self.owner.calls.append(("shape", name, low, opt, high))
        self.profile[name] = [list(low), list(opt), list(high)]

    def set_flag(self, flag: int) -> None:
        self.owner.calls.append(("flag", flag))

    def set_memory_pool_limit(self, pool: str, size: int) -> None:
        self.owner.calls.append(("pool", pool, size))

    def add_optimization_profile(self, profile: _Builder) -> int:
        self.owner.calls.append(("profile",))
        return 0

    def create_timing_cache(self, data: bytes) -> _TimingCache:
        self.owner.calls.append(("cache_in", data))
        return _TimingCache(data)

    def set_timing_cache(self, cache: _TimingCache, ignore_mismatch: bool) -> bool:
        """False for a non-empty cache when the owner is told caches come from another device."""
        accepted = self.owner.accepts_timing_caches or not cache.data
        self.owner.calls.append(("cache_set", ignore_mismatch, accepted))
        if accepted:
            self.cache = cache
        return accepted

    def get_timing_cache(self) -> _TimingCache:
        assert self.cache is not None
        return self.cache

    def build_serialized_network(self, network: _Network, config: _Builder) -> bytes | None:
        """None, as TensorRT, for a network with dynamic inputs and no optimisation profile ("Network has
        dynamic or shape inputs, but no optimization profile has been defined")."""
        model = onnx.load(network.onnx_path, load_external_data=False)
        dynamic = any(isinstance(dim, str) or dim < 0 for value in model.graph.input for dim in _dims(value))
        if dynamic and not self.profile:
            self.owner.calls.append(("build_failed", "dynamic inputs, no optimization profile"))
            return None
        plan = {"format": PLAN_FORMAT, "onnx": network.onnx_path, "profile": self.profile}
        return json.dumps(plan).encode()

    def __setattr__(self, name: str, value: object) -> None:
        if name == "builder_optimization_level":
            self.owner.calls.append(("level", value))
        super().__setattr__(name, value)


class _Runtime:
    def __init__(self, owner: StandInTensorRT) -> None:
        self.owner = owner

    def deserialize_cuda_engine(self, data: bytes) -> _Engine | None:
        try:
            plan = json.loads(data)
        except ValueError:
            return None
        return _Engine(self.owner, plan) if isinstance(plan, dict) and plan.get("format") == PLAN_FORMAT else None


def _dims(value: onnx.ValueInfoProto) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value.type.tensor_type.shape.dim]


class _Engine:
    def __init__(self, owner: StandInTensorRT, plan: dict[str, Any]) -> None:
        self.owner, self.path = owner, plan["onnx"]
        self.profile: dict[str, list[list[int]]] = plan["profile"]
        model = onnx.load(self.path, load_external_data=False)
        initializers = {tensor.name for tensor in model.graph.initializer}
        self.inputs = [value for value in model.graph.input if value.name not in initializers]
        self.outputs = list(model.graph.output)
        self.tensors = {value.name: value for value in (*self.inputs, *self.outputs)}
        self.num_io_tensors = len(self.tensors)
        self.num_optimization_profiles = 1

    def get_tensor_name(self, index: int) -> str:
        return list(self.tensors)[index]

    def get_tensor_mode(self, name: str) -> str:
        return "INPUT" if any(value.name == name for value in self.inputs) else "OUTPUT"

    def get_tensor_dtype(self, name: str) -> str:
        return _ELEMENT_TYPES[self.tensors[name].type.tensor_type.elem_type][0]

    def numpy_dtype(self, name: str) -> type:
        return _ELEMENT_TYPES[self.tensors[name].type.tensor_type.elem_type][1]

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return tuple(dim if isinstance(dim, int) else -1 for dim in _dims(self.tensors[name]))

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[tuple[int, ...]]:
        assert profile_index == 0, "one profile per engine"
        if name not in self.profile:
            raise RuntimeError(f"{name} has no profile (a static input)")  # TensorRT logs an error here
        return [tuple(dims) for dims in self.profile[name]]

    def create_execution_context(self) -> _Context:
        return _Context(self)


def _host_array(address: int, shape: tuple[int, ...], dtype: type) -> np.ndarray:
    """The host memory at `address` as an array, without a copy (the runner's buffer itself)."""
    count = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = (ctypes.c_char * max(count, 1)).from_address(address)
    return np.frombuffer(raw, dtype=np.uint8, count=count).view(dtype).reshape(shape)


class _Context:
    def __init__(self, engine: _Engine) -> None:
        self.engine = engine
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.addresses: dict[str, int] = {}
        self.allocators: dict[str, Any] = {}
        self.session = onnxruntime.InferenceSession(engine.path)

    def set_input_shape(self, name: str, shape: tuple[int, ...]) -> bool:
        shape = tuple(int(dim) for dim in shape)
        fixed = self.engine.get_tensor_shape(name)
        if name in self.engine.profile:
            low, _, high = self.engine.profile[name]
            fits = len(shape) == len(low) and all(a <= s <= b for a, s, b in zip(low, shape, high, strict=True))
        else:
            fits = shape == fixed
        if not fits:
            self.engine.owner.refused.append((name, shape))
            return False
        self.shapes[name] = shape
        return True

    def set_tensor_address(self, name: str, address: int) -> bool:
        if not address:
            return False
        self.addresses[name] = address
        return True

    def _sizes(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for value in self.engine.inputs:
            for dim, size in zip(_dims(value), self.shapes.get(value.name, ()), strict=False):
                if isinstance(dim, str):
                    sizes[dim] = size
        return sizes

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        if name in self.shapes:
            return self.shapes[name]
        sizes = self._sizes()
        return tuple(dim if isinstance(dim, int) else sizes.get(dim, -1) for dim in _dims(self.engine.tensors[name]))

    def set_output_allocator(self, name: str, allocator: Any) -> bool:
        self.allocators[name] = allocator
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        self.engine.owner.streams.append(stream_handle)
        if any(value.name not in self.shapes or value.name not in self.addresses for value in self.engine.inputs):
            return False
        feed = {
            value.name: _host_array(
                self.addresses[value.name], self.shapes[value.name], self.engine.numpy_dtype(value.name)
            ).copy()
            for value in self.engine.inputs
        }
        for value, result in zip(self.engine.outputs, self.session.run(None, feed), strict=True):
            name, result = value.name, np.ascontiguousarray(result)
            if name in self.allocators:
                allocator = self.allocators[name]
                address = allocator.reallocate_output_async(name, 0, max(result.nbytes, 1), 256, stream_handle)
                allocator.notify_shape(name, result.shape)
            elif name in self.addresses and self.get_tensor_shape(name) == result.shape:
                address = self.addresses[name]
            else:
                return False  # an output without memory, or of another size than the runner gave it
            _host_array(address, result.shape, result.dtype.type)[...] = result
        return True


class StandInStream:
    """torch.cuda.Stream's part the runner uses, on a machine without CUDA; handles are never 0 (the
    legacy default stream's)."""

    count = 0

    def __init__(self) -> None:
        StandInStream.count += 1
        self.cuda_stream = 0x1000 + StandInStream.count

    def wait_stream(self, other: object) -> None:
        pass

    def synchronize(self) -> None:
        pass


def stand_in_for_cuda(monkeypatch: Any, owner: StandInTensorRT) -> None:
    """`sys.modules["tensorrt"]` the stand-in; torch's CUDA calls the runner makes answered on the CPU,
    where the runner's buffers are put (the stand-in engine reads them there)."""
    import sys

    import torch

    from compressor.runtime import tensorrt_runner

    monkeypatch.setitem(sys.modules, "tensorrt", owner.module)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Stand-in GPU")
    monkeypatch.setattr(torch.cuda, "Stream", StandInStream)
    monkeypatch.setattr(torch.cuda, "current_stream", lambda *a: types.SimpleNamespace(cuda_stream=0))
    monkeypatch.setattr(tensorrt_runner.TensorRTRunner, "buffer_device", "cpu")
    for name in ("synchronize", "reset_peak_memory_stats"):  # what `compress bench --device cuda` calls
        monkeypatch.setattr(torch.cuda, name, lambda *a: None)
    for name in ("memory_allocated", "memory_reserved", "max_memory_allocated"):
        monkeypatch.setattr(torch.cuda, name, lambda *a: 0)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (1 << 30, 1 << 31))


def read_plan(path: Path) -> dict[str, Any]:
    return json.loads(path.read_bytes())
