"""Compression methods: one options class each (`configs`), the functions that apply them to a model
(`builtin`, registered in `registry`), and the quantization, pruning and calibration code they run."""

from compressor.methods import builtin as _builtin  # registers the built-in methods

del _builtin
