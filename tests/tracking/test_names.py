"""Metric names MLflow accepts, secret-looking keys dropped, params flattened."""

from __future__ import annotations

from pose import tracking


def test_names_and_secret_keys() -> None:
    assert tracking.metric_key("PCK@0.05") == "PCK_0.05" and tracking.metric_key("AP") == "AP"
    for key in ("AWS_SECRET_ACCESS_KEY", "api_key", "apiKey", "db.password", "hf_token", "credentials"):
        assert tracking.is_secret_key(key), key
    for key in ("num_keypoints", "keypoint_weights", "model.preset", "train.lr", "monkey"):
        assert not tracking.is_secret_key(key), key
    flat = tracking.flatten_params({"train": {"lr": 0.01, "milestones": [3, 5]}, "aug": {}, "s3": {"secret_key": "x"}})
    assert flat == {"train.lr": "0.01", "train.milestones": "[3, 5]", "aug": "{}"}


def test_flatten_keeps_values_and_drops_refused_subtrees() -> None:
    nested = {"model": {"preset": "rtmpose-t", "input_size": [192, 256]}, "train": {"lr": 0.004}, "aug": {}, "s3": {"secret_key": "x"}}
    assert tracking.flatten(nested) == {"model.preset": "rtmpose-t", "model.input_size": [192, 256], "train.lr": 0.004, "aug": {},
                                        "s3.secret_key": "x"}
    assert tracking.flatten(nested, keep=lambda k: k != "model") == {"train.lr": 0.004, "aug": {}, "s3.secret_key": "x"}
