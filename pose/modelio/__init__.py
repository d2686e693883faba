"""Model I/O: files that hold models. ``published`` (the stripped ``<name>-<sha8>.pth`` of a pose
model or detector), ``onnx`` (export, parity, the onnxruntime wrapper), ``loaders`` (the loaders
inference and publishing share: ``load_any_pose``, ``load_detector``), ``foreign`` (MMPose,
torchvision and timm checkpoints)."""
