"""`python -m compressor` runs the same CLI as `compress` (torchrun launches this form)."""

from compressor.cli import main

if __name__ == "__main__":
    main()
