"""Compression methods: each takes a model handle and gives one back (quantize today; prune and distill next)."""
