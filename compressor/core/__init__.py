"""What every layer shares: the model handle and its input spec, errors, files, progress, plug-ins."""
