"""A torch model's forward captured as one CUDA graph for one input shape, replayed in a single launch.

Small batches in eager PyTorch are bound by Python kernel launches, not by the GPU. A served torch
model replays graphs (torch.compile's "reduce-overhead" mode does), so `compress bench --device cuda`
times torch rows both ways.
"""

from __future__ import annotations

import torch
from torch import nn

from compressor.runtime.torch_runner import output_list

# Forward passes on a side stream before capture, as torch's CUDA graph docs ask: lazy initialisation and
# cuDNN's algorithm choice must not happen inside the capture.
WARMUP_RUNS = 3


class CudaGraphRunner:
    """A runner over one captured graph: inputs are copied into its static buffers and outputs read from its own.

    Capture fails (RuntimeError) for models that synchronise with the CPU or change shape with the data.
    """

    backend = "torch"
    device = "cuda"

    def __init__(self, module: nn.Module, example: list[torch.Tensor]) -> None:
        """`module` and `example` must already be on the GPU, the inputs in the module's dtype."""
        self.static_inputs = [tensor.clone() for tensor in example]
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.no_grad(), torch.cuda.stream(side):
            for _ in range(WARMUP_RUNS):
                module(*self.static_inputs)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.no_grad(), torch.cuda.graph(self.graph):
            self.static_outputs = output_list(module(*self.static_inputs))

    def to_device(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """The graph's own input buffers, holding `inputs` (cast to their dtype): where a server writes each batch."""
        for static, given in zip(self.static_inputs, inputs, strict=True):
            static.copy_(given, non_blocking=True)
        return self.static_inputs

    def run_on_device(self, inputs: list[torch.Tensor]) -> None:
        if inputs is not self.static_inputs:
            self.to_device(inputs)
        self.graph.replay()

    def run(self, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        self.run_on_device(self.to_device(inputs))
        return [output.float().cpu() for output in self.static_outputs]

    def synchronize(self) -> None:
        torch.cuda.synchronize()

    def close(self) -> None:
        del self.graph, self.static_inputs, self.static_outputs
