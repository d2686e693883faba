"""Publishing: stripped, hash-named models with meta (package), ONNX export (onnx), MLflow registry (registry)."""
