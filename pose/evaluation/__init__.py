"""Keypoint metrics: COCO AP/AR via pycocotools (``coco``) and distance metrics (``pck``)."""

from pose.evaluation.coco import evaluate_files, evaluate_keypoints, print_metrics

__all__ = ["evaluate_files", "evaluate_keypoints", "print_metrics"]
