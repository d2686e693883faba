"""Keypoint metric key names, defined once: what COCOeval reports, what training validation
records, what the evaluate stage writes, what prints as a fraction. (The detector's bbox keys
are ``pose.detection.evaluate.BBOX_KEYS``.)"""

from __future__ import annotations

#: COCOeval ``stats`` for keypoints, in its order.
COCO_KEYS = ("AP", "AP50", "AP75", "APm", "APl", "AR", "AR50", "AR75", "ARm", "ARl")
#: The headline COCO keys (pose on detected boxes in the evaluate stage).
SUMMARY_KEYS = ("AP", "AP50", "AP75", "AR")
#: Distance metrics (``pose.evaluation.pck``) at the default PCK thresholds.
PCK_KEYS = ("PCK@0.05", "PCK@0.1", "AUC", "EPE")
#: What validation records per epoch in a checkpoint's history (and publishing reads back).
VAL_KEYS = SUMMARY_KEYS + PCK_KEYS
#: The evaluate stage's keys on GT boxes (AP ... APl, AR, then AUC, EPE, NME); its PCK@ come from params.
STAGE_KEYS = COCO_KEYS[:6] + ("AUC", "EPE", "NME")
#: Metrics that are fractions (printed with four decimals; ``PCK@*`` too).
FRACTION_KEYS = COCO_KEYS + ("AUC", "NME")
