"""``pose infer``: the options become a ``pose.inference.infer.InferOptions``; ``run_infer`` does the work."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from pose.cli.common import err_console


def infer(
    src: str = typer.Argument(..., help="Image, folder of images, video file, or webcam index (e.g. 0)."),
    pose_model: Path = typer.Option(..., "--pose-model", help="Training checkpoint, published .pth or .onnx."),
    det_model: Optional[Path] = typer.Option(None, "--det-model", help="Detector checkpoint (or use --full-frame)."),
    full_frame: bool = typer.Option(False, "--full-frame", help="No detector: the whole frame is one box."),
    follow: bool = typer.Option(False, "--follow", help="No detector, one animal: the box of the previous frame's keypoints "
                                "(the whole frame first, and again when their mean score drops under --follow-thr)."),
    follow_pad: float = typer.Option(0.25, "--follow-pad", help="--follow: padding of the keypoints' box, a fraction of its size per side."),
    follow_thr: float = typer.Option(0.3, "--follow-thr", help="--follow: mean keypoint score under which the next frame is whole."),
    bbox_thr: float = typer.Option(0.3, help="Detector score threshold."),
    kpt_thr: float = typer.Option(0.3, help="Keypoints below this score are not drawn."),
    nms_thr: float = typer.Option(0.3, help="Box NMS IoU threshold."),
    radius: int = typer.Option(3, help="Keypoint radius."),
    thickness: int = typer.Option(2, help="Skeleton line thickness."),
    draw_bbox: bool = typer.Option(False, "--draw-bbox", help="Draw boxes."),
    draw_heatmap: bool = typer.Option(False, "--draw-heatmap", help="Blend the max heatmap over the frame."),
    show_kpt_idx: bool = typer.Option(False, "--show-kpt-idx", help="Write keypoint indices."),
    show: bool = typer.Option(False, "--show", help="Show a window (needs a display)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output image, folder or video (.mp4/.avi/...)."),
    save_json: Optional[Path] = typer.Option(None, "--save-json", help="Write COCO-style results per frame."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    batch_size: int = typer.Option(8, min=1, help="Frames per batch."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads for torch (default: torch's choice)."),
    save_dlc: Optional[Path] = typer.Option(None, "--save-dlc", help="Folder for DeepLabCut <video>DLC_<model>.h5 + .csv."),
    save_slp: Optional[Path] = typer.Option(None, "--save-slp", help="SLEAP predictions .slp file."),
    save_nwb: Optional[Path] = typer.Option(None, "--save-nwb", help="NWB file (ndx-pose)."),
    track_ids: bool = typer.Option(False, "--track-ids", help="Identities across video frames (track ids in every output)."),
    track_thr: float = typer.Option(0.3, "--track-thr", help="Least OKS (or box IoU) of a track match."),
    max_tracks: Optional[int] = typer.Option(None, "--max-tracks", help="Known number of animals (1: single-animal outputs)."),
    smooth: bool = typer.Option(False, "--smooth", help="One Euro smoothing per track (turns --track-ids on)."),
    smooth_min_cutoff: float = typer.Option(1.0, "--smooth-min-cutoff", help="Hz; lower is smoother at rest."),
    smooth_beta: float = typer.Option(0.05, "--smooth-beta", help="Cutoff gain per px/s; higher lags less."),
) -> None:
    """Detect and estimate poses on images, folders, videos or a webcam; draw, save JSON and lab files."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    from pose.inference.analysis import AnalysisOptions
    from pose.inference.infer import InferOptions, run_infer
    from pose.inference.visualize import DrawOptions

    draw = DrawOptions(kpt_thr=kpt_thr, radius=radius, thickness=thickness, draw_bbox=draw_bbox, draw_heatmap=draw_heatmap,
                       show_kpt_idx=show_kpt_idx)
    options = InferOptions(pose_model, det_model=det_model, full_frame=full_frame, follow=follow, follow_pad=follow_pad,
                           follow_thr=follow_thr, bbox_thr=bbox_thr, nms_thr=nms_thr, draw=draw,
                           show=show, out=out, save_json=save_json, device=device, batch_size=batch_size,
                           analysis=AnalysisOptions(track_ids, track_thr, max_tracks, smooth, smooth_min_cutoff, smooth_beta,
                                                    save_dlc, save_slp, save_nwb))
    run_infer(src, options, console=err_console)
