"""Training: the fit loop, its resumable state, distillation losses and reference checkpoints."""
