"""One module per command (`training`, `exporting`, `benching`, `quantizing`, `pruning`, `distilling`) and
what they share (`common`); `compressor.api` gathers their public functions."""
