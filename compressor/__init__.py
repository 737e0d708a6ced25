"""compressor: make trained models smaller and faster, export them, and measure what that cost and won."""

__version__ = "0.1.0"
