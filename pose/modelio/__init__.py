"""Model I/O: files that hold models (foreign checkpoints: ``foreign``)."""
