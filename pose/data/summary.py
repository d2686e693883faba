"""What ``pose data info`` reports about one split: images, instances, keypoint visibility and the
fields filled on load."""

from __future__ import annotations

from pose.data.coco import CocoData


def split_summary(data: CocoData) -> list[tuple[str, str]]:
    """(what, value) rows: counts, then the share of visible, occluded and unlabelled keypoints."""
    vis = data.visibility

    def share(v: int) -> str:
        return f"{(vis == v).mean():.1%}" if vis.size else "-"

    return [
        ("images", str(len(data.image_ids))),
        ("instances", str(len(data))),
        ("instances per image", f"{len(data) / max(1, len(data.image_ids)):.2f}"),
        ("crowd instances", str(int(data.iscrowd.sum()))),
        ("keypoints per instance", str(data.num_keypoints)),
        ("visible (v=2)", share(2)),
        ("occluded (v=1)", share(1)),
        ("unlabelled (v=0)", share(0)),
    ]


def filled_summary(data: CocoData) -> list[tuple[str, str]]:
    """(what, count) rows of the fields the loader derived (area, bbox, ...), sorted by name."""
    return [(f"filled on load: {k}", str(v)) for k, v in sorted(data.filled.items())]
