"""Video analysis for lab tools, beside ``pose infer``'s drawing: identities (``tracker``),
optional One Euro smoothing (``smoothing``) and the lab-format files (``outputs``), all fed by the
same per-frame results.

``pose infer`` builds one ``VideoAnalysis`` from its options before the stream (so a bad option
or output path fails before any frame is analysed), calls ``observe`` on every frame in order
(before drawing, so the drawn video shows smoothed keypoints and track ids) and ``write`` once
the stream has ended; every writer goes through a temp file and ``os.replace``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from pose.errors import ConfigError
from pose.inference.api import FrameResult, PoseModel
from pose.inference.outputs.results import VideoResults
from pose.inference.smoothing import OneEuroFilter
from pose.inference.tracker import PoseTracker, TrackerConfig
from pose.inference.video import Frame, FrameSource


@dataclass(frozen=True)
class AnalysisOptions:
    """The lab-output and identity options of ``pose infer`` (the CLI flag each is meant for in brackets)."""

    track: bool = False  # [--track-ids] identities across frames
    track_thr: float = 0.3  # [--track-thr] least OKS (or box IoU) of a match
    max_tracks: int | None = None  # [--max-tracks] a known number of animals; 1: single-animal outputs
    smooth: bool = False  # [--smooth] One Euro filter per track (turns tracking on)
    smooth_min_cutoff: float = 1.0  # [--smooth-min-cutoff] Hz; lower is smoother at rest
    smooth_beta: float = 0.05  # [--smooth-beta] cutoff gain per px/s of speed; higher lags less
    save_dlc: Path | None = None  # [--save-dlc FOLDER] <video>DLC_<model>.h5 + .csv
    save_slp: Path | None = None  # [--save-slp FILE.slp] SLEAP predictions
    save_nwb: Path | None = None  # [--save-nwb FILE.nwb] NWB with ndx-pose

    @property
    def tracking(self) -> bool:
        return self.track or self.smooth or self.max_tracks is not None

    @property
    def lab_outputs(self) -> bool:
        return any(p is not None for p in (self.save_dlc, self.save_slp, self.save_nwb))

    @property
    def active(self) -> bool:
        return self.tracking or self.lab_outputs

    def check(self) -> None:
        """Output paths before any work: a folder for DLC, ``.slp`` / ``.nwb`` files."""
        if self.save_dlc is not None and self.save_dlc.exists() and not self.save_dlc.is_dir():
            raise ConfigError("is a file; DeepLabCut files are written into a folder", file=self.save_dlc, entry="--save-dlc")
        for path, suffix, flag in ((self.save_slp, ".slp", "--save-slp"), (self.save_nwb, ".nwb", "--save-nwb")):
            if path is not None and path.suffix.lower() != suffix:
                raise ConfigError(f"must end in {suffix}", file=path, entry=flag)
            if path is not None and path.is_dir():
                raise ConfigError("is a folder; give a file name", file=path, entry=flag)


class VideoAnalysis:
    """Tracks, smooths and collects the results of one source; writes the lab files at the end."""

    def __init__(self, options: AnalysisOptions, source: FrameSource, pose: PoseModel) -> None:
        options.check()
        if options.lab_outputs and source.kind != "video":
            flag = next(f for f, p in (("--save-dlc", options.save_dlc), ("--save-slp", options.save_slp),
                                       ("--save-nwb", options.save_nwb)) if p is not None)
            raise ConfigError(f"lab outputs are per video frame; the source is a {source.kind}", entry=flag,
                              hint="give a video file (frames at a known rate)")
        self.options, self.source = options, source
        config = TrackerConfig(threshold=options.track_thr, max_tracks=options.max_tracks)
        self.tracker = PoseTracker(pose.num_keypoints, pose.meta.sigmas, config) if options.tracking else None
        self.smoother = OneEuroFilter(source.fps, options.smooth_min_cutoff, options.smooth_beta) if options.smooth else None
        self.results = VideoResults(source.path, pose.source, pose.meta, source.fps, (0, 0), single=options.max_tracks == 1)

    def observe(self, frame: Frame, result: FrameResult) -> None:
        """Give ``result`` its track ids (and smoothed keypoints) in place; keep it for the files."""
        if self.tracker is not None:
            self.tracker.update(result)
        if self.smoother is not None:
            self.smoother.apply(result, frame.index)
        if self.options.lab_outputs:
            if not self.results.frames:
                self.results.frame_size = result.image_size
            self.results.add(replace(result, heatmaps=None, heatmap_matrices=None))

    def write(self) -> dict[str, list[str]]:
        """Write every asked-for file; returns format -> paths written."""
        opts, written = self.options, {}
        if opts.save_dlc is not None:
            from pose.inference.outputs.dlc import write_dlc

            written["dlc"] = [str(p) for p in write_dlc(self.results, opts.save_dlc)]
        if opts.save_slp is not None:
            from pose.inference.outputs.slp import write_slp

            written["slp"] = [str(write_slp(self.results, opts.save_slp))]
        if opts.save_nwb is not None:
            from pose.inference.outputs.nwb import write_nwb

            written["nwb"] = [str(write_nwb(self.results, opts.save_nwb))]
        return written
