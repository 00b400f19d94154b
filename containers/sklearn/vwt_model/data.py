"""Reading a training channel (CSV with a header, or Parquet) into an encoded float32 matrix.

pyarrow reads the files (multi-threaded C++; no Python row loops), the columns
are checked against the feature schema, and each is encoded column-wise with
numpy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from .schema import SCHEMA_FILE, FeatureSpec, Schema, SchemaError, inferred, load_schema


class DataError(ValueError):
    """The training data is unusable; the message says what is wrong and where."""


_SKIP_SUFFIXES = (".json", ".manifest", ".md", ".txt")


def channel_files(folder: Path) -> list[Path]:
    """Data files of a channel: every regular file, recursively, but hidden files, _SUCCESS and *.json."""
    files = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or any(p.startswith((".", "_")) for p in path.relative_to(folder).parts):
            continue
        if path.name.lower().endswith(_SKIP_SUFFIXES):
            continue
        files.append(path)
    return files


def _is_parquet(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def read_channel(folder: Path, schema: Schema | None, label: str | None) -> pa.Table:
    if not folder.is_dir():
        raise DataError(f"channel folder {folder} does not exist")
    files = channel_files(folder)
    if not files:
        raise DataError(f"no data files in {folder} (expected CSV with a header, or Parquet)")
    column_types = {}
    if schema is not None:
        column_types = {f.name: pa.string() for f in schema.features if f.type == "category"}
    tables = [(path, _read_file(path, column_types)) for path in files]
    if len(tables) == 1:
        return tables[0][1]
    first_path, first = tables[0]
    for path, table in tables[1:]:
        if table.column_names != first.column_names:
            raise DataError(
                f"{path.name} has columns {table.column_names}, but {first_path.name} has {first.column_names}"
            )
    try:
        return pa.concat_tables([t for _, t in tables], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"the files of {folder.name} have incompatible column types: {exc}") from None


def _read_file(path: Path, column_types: dict) -> pa.Table:
    """One data file (Parquet, or CSV with a header; categories read as strings) with at least one row."""
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty: a data file needs a header line and at least one row")
    try:
        if _is_parquet(path):
            table = pq.read_table(path)
        else:
            table = pacsv.read_csv(
                path,
                convert_options=pacsv.ConvertOptions(column_types=column_types, strings_can_be_null=True),
            )
        table.column_names  # noqa: B018 (raises UnicodeDecodeError on a header that is not UTF-8)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path.name} is not readable CSV (with a header) or Parquet: {exc}") from None
    if table.num_rows == 0:
        raise DataError(f"{path.name} has no data rows (a header alone is not data)")
    return table


def find_schema(channel_dirs: list[Path]) -> Schema | None:
    """schema.json in the `schema` channel, else in the `train` channel; None when absent."""
    for folder in channel_dirs:
        path = folder / SCHEMA_FILE
        if path.is_file():
            try:
                return load_schema(path)
            except SchemaError as exc:
                raise DataError(f"invalid feature schema: {exc}") from None
    return None


@dataclass
class Dataset:
    X: np.ndarray  # float32, encoded
    y: np.ndarray | None
    rows: int


def _example(column: pa.ChunkedArray, mask: np.ndarray) -> str:
    index = int(np.flatnonzero(mask)[0])
    return f"row {index + 1} has {column[index].as_py()!r}"


def _numeric(name: str, column: pa.ChunkedArray, what: str) -> np.ndarray:
    if pa.types.is_boolean(column.type):
        return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type) or pa.types.is_null(column.type)):
        example = "its values are not numbers"
        try:
            pc.cast(pc.utf8_trim_whitespace(column.cast(pa.string())), pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            found = re.search(r"Failed to parse string: '(.*?)'", str(exc))
            if found:
                example = f"it holds {found.group(1)!r}"
        raise DataError(f"{what} {name!r} is not numeric ({column.type}): {example}")
    return column.cast(pa.float64()).to_numpy(zero_copy_only=False)


def encode(table: pa.Table, schema: Schema, source: str, check_range: bool = True) -> np.ndarray:
    """The encoded float32 matrix of the schema's features; raise DataError naming the column and row.

    `check_range` applies min/max (training data); serving leaves ranges to the API's validation."""
    rows = table.num_rows
    out = np.empty((rows, schema.width), dtype=np.float32)
    col = 0
    for feature in schema.features:
        if feature.name not in table.column_names:
            if feature.required:
                raise DataError(
                    f"{source}: feature column {feature.name!r} is missing; columns: {', '.join(table.column_names)}"
                )
            out[:, col : col + feature.width] = np.asarray(feature.encode(feature.default), dtype=np.float32)
        elif feature.type == "category":
            out[:, col : col + feature.width] = _one_hot(feature, table.column(feature.name), source)
        else:
            out[:, col] = _scalar(feature, table.column(feature.name), source, check_range)
        col += feature.width
    return out


def _one_hot(feature: FeatureSpec, column: pa.ChunkedArray, source: str) -> np.ndarray:
    """A category column as one-hot rows over the feature's allowed values (missing ones: the default)."""
    rows = len(column)
    nulls = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    strings = pc.utf8_trim_whitespace(column.cast(pa.string()))
    index = np.asarray(
        pc.fill_null(pc.index_in(strings, value_set=pa.array(feature.allowed)), -1).to_numpy(zero_copy_only=False)
    )
    if nulls.any():
        if feature.required:
            raise DataError(
                f"{source}: feature {feature.name!r} has {int(nulls.sum())} missing values "
                f"(first at row {int(np.flatnonzero(nulls)[0]) + 1})"
            )
        index[nulls] = feature.allowed.index(str(feature.default))
    bad = index < 0
    if bad.any():
        raise DataError(
            f"{source}: feature {feature.name!r} must be one of {', '.join(feature.allowed)}; {_example(column, bad)}"
        )
    block = np.zeros((rows, feature.width), dtype=np.float32)
    block[np.arange(rows), index] = 1.0
    return block


def _scalar(feature: FeatureSpec, column: pa.ChunkedArray, source: str, check_range: bool) -> np.ndarray:
    """A number or bool column as float64 values (missing ones: the default), checked finite and in range."""
    nulls = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if feature.type == "bool" and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        values = _bool_strings(feature, column, nulls, source)
    else:
        values = _numeric(feature.name, column, f"{source}: feature")
    missing = nulls | np.isnan(values)
    if missing.any():
        if feature.required:
            raise DataError(
                f"{source}: feature {feature.name!r} has {int(missing.sum())} missing values "
                f"(first at row {int(np.flatnonzero(missing)[0]) + 1})"
            )
        values = values.copy()
        values[missing] = feature.encode(feature.default)[0]
    if np.isinf(values).any():
        raise DataError(f"{source}: feature {feature.name!r} has infinite values")
    if feature.type == "bool" and not np.isin(values, (0.0, 1.0)).all():
        raise DataError(
            f"{source}: feature {feature.name!r} must be a boolean (0/1, true/false); "
            f"{_example(column, ~np.isin(values, (0.0, 1.0)))}"
        )
    if check_range and feature.min is not None and (values < feature.min).any():
        raise DataError(
            f"{source}: feature {feature.name!r} is below its min {feature.min:g}; "
            f"{_example(column, values < feature.min)}"
        )
    if check_range and feature.max is not None and (values > feature.max).any():
        raise DataError(
            f"{source}: feature {feature.name!r} is above its max {feature.max:g}; "
            f"{_example(column, values > feature.max)}"
        )
    return values


def _bool_strings(feature: FeatureSpec, column: pa.ChunkedArray, nulls: np.ndarray, source: str) -> np.ndarray:
    """true/false, 1/0, yes/no, t/f, y/n (any case) as 1.0/0.0; anything else is an error."""
    lower = pc.utf8_lower(pc.utf8_trim_whitespace(column))
    truthy = pc.is_in(lower, value_set=pa.array(["true", "1", "yes", "t", "y"]))
    falsy = pc.is_in(lower, value_set=pa.array(["false", "0", "no", "f", "n"]))
    bad = ~np.asarray(pc.or_(truthy, falsy).to_numpy(zero_copy_only=False), dtype=bool) & ~nulls
    if bad.any():
        raise DataError(f"{source}: feature {feature.name!r} must be a boolean; {_example(column, bad)}")
    return np.asarray(truthy.to_numpy(zero_copy_only=False), dtype=np.float64)


def label_values(table: pa.Table, label: str, source: str) -> pa.ChunkedArray:
    if label not in table.column_names:
        raise DataError(f"{source}: label column {label!r} is missing; columns: {', '.join(table.column_names)}")
    column = table.column(label)
    nulls = np.asarray(column.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_floating(column.type):
        nulls |= np.isnan(column.to_numpy(zero_copy_only=False))
    if nulls.any():
        raise DataError(
            f"{source}: label {label!r} has {int(nulls.sum())} missing (NaN) values "
            f"(first at row {int(np.flatnonzero(nulls)[0]) + 1}); drop or label those rows"
        )
    return column


def anchor_values(table: pa.Table, anchor: str, source: str) -> np.ndarray:
    """An unsupervised model's anchor column as 1.0 (the positive value: the larger, last sorted, as for a label),
    0.0, or NaN where it is absent (null, empty or NaN); it must hold two values."""
    if anchor not in table.column_names:
        raise DataError(
            f"{source}: anchor column {anchor!r} is missing; columns: {', '.join(table.column_names)} "
            "(the unsupervised model's score is checked against it)"
        )
    column = table.column(anchor)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.utf8_trim_whitespace(column)
        column = pc.if_else(pc.equal(column, ""), pa.scalar(None, pa.string()), column)
    elif not (pa.types.is_boolean(column.type) or pa.types.is_null(column.type)):
        column = _numeric(anchor, column, f"{source}: anchor")
        column = pa.chunked_array([pa.array(column, from_pandas=True)])  # NaN -> null
    present = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    found = sorted(set(column.drop_null().to_pylist()))
    if len(found) != 2:
        what = {0: "no values", 1: f"only the value {found[0]!r}" if found else ""}.get(
            len(found), f"{len(found)} values ({', '.join(map(repr, found[:5]))}{', ...' if len(found) > 5 else ''})"
        )
        raise DataError(
            f"{source}: anchor {anchor!r} has {what}; an anchor is a 0/1 outcome (true/false, or two values), empty "
            "where unknown, and validation:anchor_auc (the gate's metric) needs both of its values"
        )
    positive = np.asarray(
        pc.fill_null(pc.equal(column, pa.scalar(found[1], column.type)), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    return np.where(present, positive.astype(np.float64), np.nan)


def load_table(
    folder: Path, schema: Schema | None, label: str | None, source: str, anchor: str | None = None
) -> tuple[Schema, pa.Table, np.ndarray, pa.ChunkedArray | None]:
    """Read a channel; returns the schema used (inferred when none was given), the raw table, X, and the raw
    label column. An unsupervised model's `anchor` column is never a feature, like a label."""
    table = read_channel(folder, schema, label)
    y = label_values(table, label, source) if label else None
    if schema is None:
        schema = inferred([c for c in table.column_names if c not in (label, anchor)])
        if not schema.features:
            besides = f"the label {label!r}" if label else f"the anchor {anchor!r}"
            raise DataError(f"{source}: there are no feature columns besides {besides}")
    elif anchor is not None and anchor in schema.names:
        raise DataError(
            f"the feature schema lists the anchor column {anchor!r} as a feature: the anomaly score is checked "
            "against the anchor, so it can never be an input; remove it from the features"
        )
    return schema, table, encode(table, schema, source), y
