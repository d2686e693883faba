"""Lightning Pose labelled data -> canonical dataset folder.

``src`` is a Lightning Pose data folder holding ``CollectedData.csv`` or the CSV itself. The CSV
has DeepLabCut's single-animal layout (scorer / bodyparts / coords); each row's index is the
image path relative to the CSV's folder (``labeled-data/img01.png``).
"""

from __future__ import annotations

from pathlib import Path

from pose.data.coco import resolve_image_path
from pose.data.convert.output import draft_meta, write_dataset
from pose.data.convert.report import ConversionReport
from pose.data.convert.tabular import LabelTable, collect, read_csv_table
from pose.errors import DataError

CSV_NAME = "CollectedData.csv"


def convert(src: Path, out_dir: Path, *, split: str, report: ConversionReport) -> None:
    """Convert the Lightning Pose labels at ``src`` into ``out_dir``."""
    src = Path(src).absolute()
    csv_path = find_csv(src)
    root = csv_path.parent
    table = read_csv_table(csv_path)
    if table.multi_animal:
        raise DataError("Lightning Pose tables are single-animal, this one has an 'individuals' header row", file=csv_path, entry="header", hint="use --from dlc")

    def resolve(t: LabelTable, image: str) -> tuple[Path, str]:
        path = resolve_image_path(root, image, source=str(t.source), entry=f"row {image}")
        if not path.is_file():
            raise DataError(f"image not found at {path}", file=t.source, entry=f"row {image}")
        return path, path.relative_to(root).as_posix()

    data = collect([table], resolve, report)
    meta = draft_meta(root.name, table.bodyparts, category="animal", source=csv_path)
    write_dataset(out_dir, data, meta, split=split, report=report)


def find_csv(src: Path) -> Path:
    """``src`` itself when a file, else its ``CollectedData.csv``."""
    if src.is_file():
        if src.suffix.lower() != ".csv":
            raise DataError("a Lightning Pose label file is a .csv", file=src, hint=f"pass the folder holding {CSV_NAME} or the CSV itself")
        return src
    path = src / CSV_NAME
    if not path.is_file():
        have = ", ".join(p.name for p in sorted(src.glob("*.csv"))) or "no CSV files"
        raise DataError(f"no {CSV_NAME} here (found: {have})", file=src, hint="pass the label CSV itself")
    return path
