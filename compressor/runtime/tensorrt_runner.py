"""A TensorRT engine behind the Runner interface, its buffers in torch CUDA tensors (no pycuda needed).

The engine runs on a stream of its own (the legacy default stream adds synchronisations TensorRT warns
about), ordered after torch's. Batches above the optimisation profile's maximum run in chunks; a refused
shape or address is an error, never a run at a stale shape. Data-sized outputs (a detector's boxes
after NMS) get their memory from an output allocator while the engine runs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from compressor.core.errors import BackendUnavailableError, InputFileError
from compressor.runtime.tensorrt_engine import import_tensorrt, read_engine_record, require_cuda


def _torch_dtypes(trt: Any) -> dict[Any, torch.dtype]:
    names = {
        "FLOAT": torch.float32,
        "HALF": torch.float16,
        "BF16": torch.bfloat16,
        "INT8": torch.int8,
        "INT32": torch.int32,
        "INT64": torch.int64,
        "BOOL": torch.bool,
        "UINT8": torch.uint8,
    }
    return {getattr(trt.DataType, name): dtype for name, dtype in names.items() if hasattr(trt.DataType, name)}


def output_allocator(trt: Any, device: str = "cuda") -> Any:
    """A `trt.IOutputAllocator` keeping one output in a torch buffer that only grows, so a stream of frames
    stops allocating after the first few; `tensor(dtype)` reads the output once the engine has run."""

    class TorchOutputAllocator(trt.IOutputAllocator):
        def __init__(self) -> None:
            trt.IOutputAllocator.__init__(self)
            self.buffer = torch.empty(1, dtype=torch.uint8, device=device)
            self.shape: tuple[int, ...] | None = None

        def reallocate_output(self, tensor_name: str, memory: int, size: int, alignment: int) -> int:
            if self.buffer.numel() < size:  # at least one byte: a null address would read as a failure
                self.buffer = torch.empty(int(size), dtype=torch.uint8, device=device)
            return self.buffer.data_ptr()

        def reallocate_output_async(self, tensor_name: str, memory: int, size: int, alignment: int, stream: int) -> int:
            return self.reallocate_output(tensor_name, memory, size, alignment)  # TensorRT 10 calls this one

        def notify_shape(self, tensor_name: str, shape: Any) -> None:
            self.shape = tuple(int(dim) for dim in shape)

        def tensor(self, dtype: torch.dtype) -> torch.Tensor:
            if self.shape is None:
                raise InputFileError("TensorRT ran the engine without reporting an output's shape")
            size = math.prod(self.shape) * torch.empty(0, dtype=dtype).element_size()
            return self.buffer[:size].view(dtype).reshape(self.shape)

    return TorchOutputAllocator()


class TensorRTRunner:
    backend = "tensorrt"
    buffer_device = "cuda"  # where inputs and outputs live; the tests' stand-in engine reads host memory

    def __init__(self, engine_path: Path, device: str = "cuda") -> None:
        if device != "cuda":
            raise BackendUnavailableError("the tensorrt backend runs on CUDA only; pass --device cuda")
        trt = import_tensorrt()
        require_cuda()
        self.device = device
        logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(logger)  # must outlive the engine
        self.engine = self.runtime.deserialize_cuda_engine(Path(engine_path).read_bytes())
        if self.engine is None:
            record = read_engine_record(Path(engine_path))
            built = f" (built with TensorRT {record.tensorrt_version} on {record.gpu})" if record else ""
            raise InputFileError(
                f"{engine_path}: TensorRT {trt.__version__} cannot load this engine{built}; engines run only "
                "with the TensorRT version and GPU they were built for: rebuild it here"
            )
        self.context = self.engine.create_execution_context()
        self.stream = torch.cuda.Stream()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if n not in self.input_names]
        self.max_batch = self._profile_max_batch()
        self._dtypes = _torch_dtypes(trt)
        self._buffers: dict[str, torch.Tensor] = {}  # outputs sized by the inputs, kept between batches
        self._allocators: dict[str, Any] = {}  # outputs sized by the data, by name
        self._trt = trt

    def _profile_max_batch(self) -> int | None:
        """The largest batch every input's profile (profile 0) accepts; None for an engine without a
        batch axis to vary (static inputs)."""
        largest = []
        for name in self.input_names:
            if -1 not in tuple(self.engine.get_tensor_shape(name)):
                continue
            _, _, maximum = self.engine.get_tensor_profile_shape(name, 0)
            largest.append(int(tuple(maximum)[0]))
        return min(largest) if largest else None

    def _dtype(self, name: str) -> torch.dtype:
        return self._dtypes[self.engine.get_tensor_dtype(name)]

    def to_device(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        if len(inputs) != len(self.input_names):
            raise InputFileError(f"the engine takes {len(self.input_names)} inputs, got {len(inputs)}")
        return [
            tensor.to(self.buffer_device, self._dtype(name)).contiguous()
            for name, tensor in zip(self.input_names, inputs, strict=True)
        ]

    def _refused(self, name: str, shape: tuple[int, ...]) -> InputFileError:
        if -1 not in tuple(self.engine.get_tensor_shape(name)):
            accepted = f"only {tuple(self.engine.get_tensor_shape(name))}"
        else:
            low, _, high = (tuple(dims) for dims in self.engine.get_tensor_profile_shape(name, 0))
            accepted = f"shapes from {low} to {high}"
        return InputFileError(f"the TensorRT engine takes {accepted} for input {name!r}, not {shape}")

    def _output_buffer(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        buffer = self._buffers.get(name)
        if buffer is None or tuple(buffer.shape) != shape:
            self.stream.synchronize()  # the engine may still be writing the buffer it replaces
            buffer = torch.empty(shape, dtype=self._dtype(name), device=self.buffer_device)
            self._buffers[name] = buffer
        return buffer

    def _execute(self, placed: list[torch.Tensor]) -> list[torch.Tensor | Any]:
        """Enqueue the engine; each output is a tensor, or the allocator that will hold it once it has run."""
        for name, tensor in zip(self.input_names, placed, strict=True):
            if not self.context.set_input_shape(name, tuple(tensor.shape)):
                raise self._refused(name, tuple(tensor.shape))
            if not self.context.set_tensor_address(name, tensor.data_ptr()):
                raise InputFileError(f"TensorRT refused the memory of input {name!r} (its log above says why)")
        outputs: list[torch.Tensor | Any] = []
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            if any(dim < 0 for dim in shape):  # decided by the data: sized while the engine runs
                if name not in self._allocators:
                    self._allocators[name] = output_allocator(self._trt, self.buffer_device)
                    self.context.set_output_allocator(name, self._allocators[name])
                outputs.append(self._allocators[name])
                continue
            output = self._output_buffer(name, shape)
            if not self.context.set_tensor_address(name, output.data_ptr()):
                raise InputFileError(f"TensorRT refused the memory of output {name!r} (its log above says why)")
            outputs.append(output)
        self.stream.wait_stream(torch.cuda.current_stream())  # the inputs were placed on torch's stream
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise InputFileError("TensorRT failed to run the engine on this batch (its log above says why)")
        return outputs

    def _run_batch(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        outputs = self._execute(self.to_device(inputs))
        self.stream.synchronize()
        tensors = [
            output if isinstance(output, torch.Tensor) else output.tensor(self._dtype(name))
            for name, output in zip(self.output_names, outputs, strict=True)
        ]
        return [
            tensor.to("cpu", torch.float32 if tensor.is_floating_point() else tensor.dtype, copy=True)
            for tensor in tensors
        ]

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """One batch, in chunks of the profile's largest batch where it is larger (outputs batch-major)."""
        total = int(inputs[0].shape[0]) if inputs and inputs[0].dim() else 0
        if self.max_batch is None or total <= self.max_batch:
            return self._run_batch(inputs)
        parts = [
            self._run_batch([tensor[start : start + self.max_batch] for tensor in inputs])
            for start in range(0, total, self.max_batch)
        ]
        return [torch.cat(outputs) for outputs in zip(*parts, strict=True)]

    def run_on_device(self, inputs: list[torch.Tensor]) -> None:
        self._execute(inputs)

    def synchronize(self) -> None:
        self.stream.synchronize()

    def close(self) -> None:
        self.stream.synchronize()
        self._buffers.clear()
        del self.context
        del self.engine
