"""Measuring: accuracy, timing, memory and footprint, and variants measured side by side and head to head."""
