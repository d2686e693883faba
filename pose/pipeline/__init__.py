"""The pipeline's own stages and glue: data bootstrap, prepare, validate, evaluate (+ plots),
publish, and running ``dvc`` (locked, with an MLflow parent run). ``dvc.yaml`` and the Prefect
flow call these only through the ``pose pipeline ...`` commands."""
