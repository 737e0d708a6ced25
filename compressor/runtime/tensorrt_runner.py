"""A TensorRT engine behind the Runner interface, its buffers in torch CUDA tensors (no pycuda needed).

Inputs and outputs live in tensors torch allocates on the GPU; the engine gets their addresses and
runs on torch's current CUDA stream, so torch's synchronisation and memory statistics cover it. An output
whose size the data decides (a detector's boxes after NMS) has no size before the engine runs: TensorRT
asks an output allocator for its memory while running and tells it the shape.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from compressor.errors import BackendUnavailableError, InputFileError
from compressor.export.tensorrt import import_tensorrt, read_engine_record, require_cuda


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
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if n not in self.input_names]
        self._dtypes = _torch_dtypes(trt)
        self._allocators: dict[str, Any] = {}  # outputs sized by the data, by name
        self._trt = trt

    def _dtype(self, name: str) -> torch.dtype:
        return self._dtypes[self.engine.get_tensor_dtype(name)]

    def to_device(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        if len(inputs) != len(self.input_names):
            raise InputFileError(f"the engine takes {len(self.input_names)} inputs, got {len(inputs)}")
        return [
            tensor.to("cuda", self._dtype(name)).contiguous()
            for name, tensor in zip(self.input_names, inputs, strict=True)
        ]

    def _execute(self, placed: list[torch.Tensor]) -> list[torch.Tensor | Any]:
        """Enqueue the engine; each output is a tensor, or the allocator that will hold it once it has run."""
        for name, tensor in zip(self.input_names, placed, strict=True):
            self.context.set_input_shape(name, tuple(tensor.shape))
            self.context.set_tensor_address(name, tensor.data_ptr())
        outputs: list[torch.Tensor | Any] = []
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            if any(dim < 0 for dim in shape):  # decided by the data: sized while the engine runs
                if name not in self._allocators:
                    self._allocators[name] = output_allocator(self._trt)
                    self.context.set_output_allocator(name, self._allocators[name])
                outputs.append(self._allocators[name])
                continue
            output = torch.empty(shape, dtype=self._dtype(name), device="cuda")
            self.context.set_tensor_address(name, output.data_ptr())
            outputs.append(output)
        if not self.context.execute_async_v3(torch.cuda.current_stream().cuda_stream):
            raise InputFileError("TensorRT failed to run the engine on this batch (its log above says why)")
        return outputs

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        outputs = self._execute(self.to_device(inputs))
        torch.cuda.current_stream().synchronize()
        tensors = [
            output if isinstance(output, torch.Tensor) else output.tensor(self._dtype(name))
            for name, output in zip(self.output_names, outputs, strict=True)
        ]
        return [tensor.float().cpu() if tensor.is_floating_point() else tensor.cpu() for tensor in tensors]

    def run_on_device(self, inputs: list[torch.Tensor]) -> None:
        self._execute(inputs)

    def synchronize(self) -> None:
        torch.cuda.synchronize()

    def close(self) -> None:
        del self.context
        del self.engine
