"""Device handling that can be checked without a GPU."""

import pytest
import torch

from compressor import commands
from compressor.core.errors import BackendUnavailableError


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu_is_a_clear_error() -> None:
    with pytest.raises(BackendUnavailableError, match="no CUDA GPU"):
        commands.bench("tiny_cnn", weights="random", device="cuda")


def test_unknown_device_is_refused() -> None:
    with pytest.raises(BackendUnavailableError, match="unknown device"):
        commands.bench("tiny_cnn", weights="random", device="tpu")
