"""The options of each export target, as `cz.export(model, config, output)` takes them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from compressor.exporters.jetson import check_jetson_options
from compressor.exporters.tensorrt import BatchProfile
from compressor.methods.configs import Calibration


class ExportConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    raw_pixels: bool = False
    """The model takes pixels 0-255 and normalises them inside (`pixel_input`)."""

    def check(self) -> None:
        """Option combinations the field types cannot express, raised as OptionError."""


class Onnx(ExportConfig):
    """An ONNX file with a dynamic batch axis, its parity against torch in its metadata."""

    opset: int | None = Field(default=None, ge=17)
    """The ONNX opset; None: the exporter's default (18)."""


class TensorRT(ExportConfig):
    """A serialized engine for this machine's NVIDIA GPU (TensorRT installed), its ONNX and record beside it."""

    precision: Literal["fp32", "fp16", "int8"] = "fp32"
    """The engine's precision; int8 is built from Q/DQ calibrated on the train split."""
    min_batch: PositiveInt = 1
    opt_batch: PositiveInt | None = None
    """The batch the engine is tuned for; None: 8, or max_batch if lower."""
    max_batch: PositiveInt = 32
    timing_cache: str | None = None
    """A TensorRT timing cache to reuse and update; None: one beside the engine."""
    calibration: Calibration = "minmax"
    calib_samples: PositiveInt = 256

    def check(self) -> None:
        self.batch_profile()

    def batch_profile(self) -> BatchProfile:
        profile = BatchProfile(self.min_batch, self.opt_batch or min(8, self.max_batch), self.max_batch)
        profile.check()
        return profile


class Jetson(ExportConfig):
    """A folder for the board: static-shape ONNX (Q/DQ for int8), build and benchmark scripts, manifest."""

    precision: Literal["fp32", "fp16", "int8"] = "int8"
    jetpack: str = "6.2"
    batch_size: PositiveInt = 1
    calibration: Calibration = "minmax"
    calib_samples: PositiveInt = 256
    max_samples: PositiveInt | None = None
    """Val samples the manifest's accuracy is measured on."""

    def check(self) -> None:
        check_jetson_options(self.precision, self.jetpack, self.batch_size)


class OpenVino(ExportConfig):
    """An OpenVINO IR (.xml, weights in the .bin beside it) for Intel devices, the model's input described in
    it; an .onnx file is converted as it is (a Q/DQ int8 file gives an int8 IR)."""

    opset: int | None = Field(default=None, ge=17)
    """The opset of the ONNX export it is converted from; None: the exporter's default."""


TARGETS: dict[str, type[ExportConfig]] = {"onnx": Onnx, "tensorrt": TensorRT, "jetson": Jetson, "openvino": OpenVino}
