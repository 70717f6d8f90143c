"""The competition's data layout: train.csv / test.csv and the image folders they point to."""

from pathlib import Path

import pandas as pd

from hueroute.errors import InputError
from hueroute.files import check_name, resolve_input
from hueroute.images import read_gray, read_rgb
from hueroute.progress import track

TRAIN_COLUMNS = ("id", "input_path", "gt_path")
TEST_COLUMNS = ("id", "input_path")


def read_table(csv: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """Read and check a layout CSV; its path columns come back resolved inside the CSV's folder."""
    if not csv.is_file():
        raise InputError(csv, "no such file")
    try:
        table = pd.read_csv(csv, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(csv, f"is not a readable CSV ({error})") from error
    missing = [column for column in columns if column not in table.columns]
    if missing:
        raise InputError(csv, f"missing column(s) {', '.join(missing)} (expected {columns})")
    if table.empty:
        raise InputError(csv, "has no rows")
    repeated = table.index[table["id"].duplicated()]
    if len(repeated):
        line = repeated[0] + 2  # the header is line 1
        first = table.index[table["id"] == table["id"][repeated[0]]][0] + 2
        raise InputError(
            csv, f"line {line} repeats id {table['id'][repeated[0]]!r} of line {first}"
        )
    base = csv.parent
    for row, record in enumerate(table.itertuples(index=False), start=2):
        check_name(record.id, f"{csv} line {row}")
        for column in columns[1:]:
            path = resolve_input(base, getattr(record, column), f"{csv} line {row}")
            if not path.is_file():
                raise InputError(
                    csv, f"line {row} (id {record.id}): {column} {path} does not exist"
                )
            table.loc[row - 2, column] = str(path)
    return table


def check_dataset(data: Path) -> dict[str, int]:
    """Decode every image of a dataset and check modes and sizes; return the row counts."""
    train = read_table(data / "train.csv", TRAIN_COLUMNS)
    test = read_table(data / "test.csv", TEST_COLUMNS)
    for record in track(train.itertuples(index=False), "checking train", total=len(train)):
        gray, rgb = read_gray(record.input_path), read_rgb(record.gt_path)
        if gray.shape != rgb.shape[:2]:
            raise InputError(
                record.input_path, f"is {gray.shape} but its original is {rgb.shape[:2]}"
            )
    for record in track(test.itertuples(index=False), "checking test", total=len(test)):
        read_gray(record.input_path)
    return {"train": len(train), "test": len(test)}
