"""The pipeline's own stages and glue, on top of the library: ``commands`` (``pose pipeline ...``,
what ``dvc.yaml`` calls), the stage modules (``prepare``, ``validate``, ``evaluate``, ``plots``),
``dvc`` (DVC from code, the project lock), ``run`` (``run_pipeline``: the one pipeline run that
``pose pipeline run`` and the Prefect flow share), ``summary`` (its markdown), ``prefect_server``
(the local server ``flows/train_pose.py serve`` and ``pose pipeline server`` start),
``deployment`` (``prefect.yaml``'s build step and ``pose pipeline deploy``) and ``options`` (the
shared ``--track``)."""
