"""The pipeline's Lambda handlers against moto's S3."""

from __future__ import annotations

import csv
import io
import json

import boto3
import pytest
from pipeline import label, size

SIZING = [
    {"max_gb": 1, "instance_type": "ml.m5.large", "instance_count": 1, "volume_gb": 30},
    {"max_gb": 10, "instance_type": "ml.m5.2xlarge", "instance_count": 1, "volume_gb": 50},
    {"max_gb": None, "instance_type": "ml.m5.4xlarge", "instance_count": 2, "volume_gb": 200},
]


@pytest.fixture
def s3(moto):
    client = boto3.client("s3", region_name="eu-west-1")
    for bucket in ("data", "models"):
        client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    return client


def put_csv(s3, key, header, rows, bucket="data"):
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    s3.put_object(Bucket=bucket, Key=key, Body=out.getvalue().encode())


def read_csv(s3, bucket, key):
    return list(csv.reader(io.StringIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())))


# --------------------------------------------------------------------------- size


def test_size_counts_rows_and_picks_the_first_row_that_fits(s3):
    put_csv(s3, "training/a.csv", ["x", "y"], [[i, i % 2] for i in range(120)])
    put_csv(s3, "training/b.csv", ["x", "y"], [[i, 0] for i in range(30)])
    s3.put_object(Bucket="data", Key="training/", Body=b"")  # a folder marker
    s3.put_object(Bucket="data", Key="training/README.md", Body=b"not data\n")
    s3.put_object(Bucket="data", Key="other/c.csv", Body=b"x,y\n1,2\n")  # outside the prefix
    result = size.handler({"bucket": "data", "prefix": "training/", "sizing": SIZING})
    assert result["objects"] == 2 and result["rows"] == 150 and result["rows_estimated"] is False
    assert result["bytes"] == sum(
        o["Size"]
        for o in s3.list_objects_v2(Bucket="data", Prefix="training/")["Contents"]
        if o["Key"].endswith(".csv")
    )
    assert (result["instance_type"], result["instance_count"], result["volume_gb"]) == ("ml.m5.large", 1, 30)


def test_size_estimates_rows_of_large_objects_from_a_sample(s3, monkeypatch):
    monkeypatch.setattr(size, "SAMPLE_BYTES", 1000)
    put_csv(s3, "training/big.csv", ["a", "b"], [[f"{i:06d}", "xyz"] for i in range(5000)])  # 11 bytes a row
    result = size.handler({"bucket": "data", "prefix": "training/", "sizing": SIZING})
    assert result["rows_estimated"] is True
    assert abs(result["rows"] - 5000) <= 50


def test_size_without_data_raises_no_training_data(s3):
    with pytest.raises(size.NoTrainingData, match="no training data under s3://data/training/"):
        size.handler({"bucket": "data", "prefix": "training/", "sizing": SIZING})
    put_csv(s3, "training/header-only.csv", ["x", "y"], [])
    with pytest.raises(size.NoTrainingData):
        size.handler({"bucket": "data", "prefix": "training/", "sizing": SIZING})


def test_size_rejects_an_event_without_sizing(s3):
    with pytest.raises(size.InvalidEvent, match="sizing"):
        size.handler({"bucket": "data", "prefix": "training/"})


@pytest.mark.parametrize(
    "gb, expected",
    [
        (0.0001, ("ml.m5.large", 1, 30)),
        (1.0, ("ml.m5.large", 1, 30)),
        (1.5, ("ml.m5.2xlarge", 1, 50)),
        (10, ("ml.m5.2xlarge", 1, 50)),
        (11, ("ml.m5.4xlarge", 2, 200)),
        (300, ("ml.m5.4xlarge", 2, 365)),  # the volume grows with the data: 300 GB * 1.2 + 5
    ],
)
def test_sizing_table(gb, expected):
    chosen = size.choose_size(SIZING, int(gb * size.GB))
    assert (chosen["instance_type"], chosen["instance_count"], chosen["volume_gb"]) == expected


# --------------------------------------------------------------------------- label: self-exclusion


def test_self_exclusion_labels_from_the_flag_and_drops_it(s3):
    put_csv(s3, "training/part1.csv", ["age", "excluded_flag", "country"], [[30, "yes", "nl"], [41, "", "de"]])
    put_csv(s3, "training/part2.csv", ["age", "excluded_flag", "country"], [[25, "0", "gb"], [52, "TRUE", "se"]])
    result = label.handler(
        {
            "action": "self_exclusion",
            "source": {"bucket": "data", "prefix": "training/"},
            "output": {"bucket": "models", "prefix": "labelled/run-1/"},
            "label": "self_excluded",
            "source_column": "excluded_flag",
        }
    )
    assert result == {
        "bucket": "models",
        "prefix": "labelled/run-1/",
        "s3_uri": "s3://models/labelled/run-1/",
        "rows": 4,
        "positives": 2,
        "labels": {"operator": 0, "anchor": 4},  # the event names no label files
    }
    assert read_csv(s3, "models", "labelled/run-1/data.csv") == [
        ["age", "country", "self_excluded"],
        ["30", "nl", "1"],
        ["41", "de", "0"],
        ["25", "gb", "0"],
        ["52", "se", "1"],
    ]
    # the data itself is untouched
    assert read_csv(s3, "data", "training/part1.csv")[1] == ["30", "yes", "nl"]


def test_self_exclusion_when_the_label_is_the_flag_column(s3):
    put_csv(s3, "training/a.csv", ["self_excluded", "age"], [["1", 30], ["0", 40]])
    label.handler(
        {
            "action": "self_exclusion",
            "source": {"bucket": "data", "prefix": "training/"},
            "output": {"bucket": "models", "prefix": "labelled/r/"},
            "label": "self_excluded",
            "source_column": "self_excluded",
        }
    )
    assert read_csv(s3, "models", "labelled/r/data.csv") == [["age", "self_excluded"], ["30", "1"], ["40", "0"]]


@pytest.mark.parametrize(
    "files, event_change, error, match",
    [
        (
            {"training/a.csv": (["age", "flag"], [[1, "maybe"]])},
            {},
            label.InvalidData,
            r"s3://data/training/a.csv line 2, column flag: 'maybe' is not a yes/no flag",
        ),
        ({"training/a.csv": (["age"], [[1]])}, {}, label.InvalidData, "has no column 'flag'; columns: age"),
        (
            {"training/a.csv": (["age", "flag"], [[1, 1]]), "training/b.csv": (["flag", "age"], [[1, 1]])},
            {},
            label.InvalidData,
            "training/b.csv: its header",
        ),
        ({}, {}, label.NoTrainingData, "no CSV files under s3://data/training/"),
        (
            {"training/a.csv": (["age", "flag"], [[1, 1]])},
            {"output": {"bucket": "data", "prefix": "training/labelled/"}},
            label.InvalidEvent,
            "must not lie inside the source prefix",
        ),
        (
            {"training/a.csv": (["age", "flag"], [[1, 1]])},
            {"action": "guess"},
            label.InvalidEvent,
            "action must be one of",
        ),
    ],
)
def test_self_exclusion_bad_input(s3, files, event_change, error, match):
    for key, (header, rows) in files.items():
        put_csv(s3, key, header, rows)
    event = {
        "action": "self_exclusion",
        "source": {"bucket": "data", "prefix": "training/"},
        "output": {"bucket": "models", "prefix": "labelled/x/"},
        "label": "y",
        "source_column": "flag",
        **event_change,
    }
    with pytest.raises(error, match=match):
        label.handler(event)
    assert "Contents" not in s3.list_objects_v2(Bucket="models")  # nothing half-written


# --------------------------------------------------------------------------- label: Ground Truth


def _prepare(event_prefix: str = "training/") -> dict:
    return label.handler(
        {
            "action": "prepare_ground_truth",
            "source": {"bucket": "data", "prefix": event_prefix},
            "output": {"bucket": "models", "prefix": "labeling/run/input/"},
            "categories": ["0", "1"],
            "title": "Label records",
        }
    )


def _merge() -> dict:
    return label.handler(
        {
            "action": "merge_ground_truth",
            "source": {"bucket": "data", "prefix": "training/"},
            "manifest_uri": "s3://models/labeling/output/run/manifests/output/output.manifest",
            "attribute": "vwt-label",
            "label": "self_excluded",
            "output": {"bucket": "models", "prefix": "labelled/run/"},
        }
    )


def _answer(s3, output: list[dict]) -> None:
    """What Ground Truth writes: the input objects with the label and its metadata."""
    s3.put_object(
        Bucket="models",
        Key="labeling/output/run/manifests/output/output.manifest",
        Body="\n".join(json.dumps(o) for o in output).encode(),
    )


def _manifest(s3) -> list[dict]:
    text = s3.get_object(Bucket="models", Key="labeling/run/input/input.manifest")["Body"].read().decode()
    return [json.loads(line) for line in text.splitlines()]


HEADER = ["user_id", "stake", "product"]


def test_ground_truth_prepare_then_merge_joins_labels_by_user_id(s3):
    put_csv(s3, "training/b.csv", HEADER, [["p1", 10, "casino"], ["p2", 20, "poker"], ["p3", 30, "sports"]])
    prepared = _prepare()
    assert prepared["rows"] == 3
    lines = _manifest(s3)
    assert lines[1] == {"source": "stake=20, product=poker", "vwt-user-id": "p2"}  # the id travels, not shown
    categories = json.loads(s3.get_object(Bucket="models", Key="labeling/run/input/categories.json")["Body"].read())
    assert categories["labels"] == [{"label": "0"}, {"label": "1"}]
    assert prepared["ui_template_uri"] == "s3://models/labeling/run/input/template.liquid.html"
    _answer(
        s3,
        [  # p3 was not labelled
            {**lines[0], "vwt-label": 1, "vwt-label-metadata": {"class-name": "1", "confidence": 0.9}},
            {**lines[1], "vwt-label": 0, "vwt-label-metadata": {"class-name": "0", "human-annotated": "yes"}},
            {**lines[2], "vwt-label-metadata": {"failure-reason": "ClientError: timed out"}},
        ],
    )
    # meanwhile the prefix changed: a file sorting first (new players, and p2's second row) came in
    put_csv(s3, "training/a.csv", HEADER, [["p9", 90, "casino"], ["p2", 25, "casino"]])
    merged = _merge()
    assert merged["rows"] == 3 and merged["positives"] == 1
    assert read_csv(s3, "models", "labelled/run/data.csv") == [
        ["user_id", "stake", "product", "self_excluded"],
        ["p2", "25", "casino", "0"],  # p9 has no label: left out; by position it would have taken p1's "1"
        ["p1", "10", "casino", "1"],
        ["p2", "20", "poker", "0"],
    ]


def test_ground_truth_labels_one_task_per_player(s3):
    put_csv(s3, "training/a.csv", HEADER, [["p1", 10, "casino"], ["p1", 11, "poker"], ["p2", 20, "poker"]])
    assert _prepare()["rows"] == 2
    assert [line["vwt-user-id"] for line in _manifest(s3)] == ["p1", "p2"]


def test_ground_truth_needs_the_user_id_column(s3):
    put_csv(s3, "training/a.csv", ["stake", "product"], [[10, "casino"]])
    with pytest.raises(label.InvalidData, match="no user_id column: Ground Truth's labels are joined"):
        _prepare()


def test_conflicting_labels_for_a_player_fail_the_merge_and_write_nothing(s3):
    put_csv(s3, "training/a.csv", HEADER, [["p1", 10, "casino"]])
    _prepare()
    (line,) = _manifest(s3)
    _answer(
        s3,
        [
            {**line, "vwt-label-metadata": {"class-name": "1"}},
            {**line, "vwt-label-metadata": {"class-name": "0"}},
        ],
    )
    with pytest.raises(label.InvalidData, match="user_id p1 is labelled '1' on line 1 and '0' on line 2"):
        _merge()
    assert "Contents" not in s3.list_objects_v2(Bucket="models", Prefix="labelled/")


# --------------------------------------------------------------------------- label: data larger than /tmp


def test_self_exclusion_streams_the_labelled_copy_in_parts_with_bounded_memory(s3, monkeypatch):
    """The copy is a multipart upload of PART_BYTES parts: nothing goes to /tmp (512 MB on Lambda by default) and
    memory holds one part, whatever the data's size; a bad row late in the data aborts the upload."""
    import tempfile

    monkeypatch.setattr(label, "PART_BYTES", 5 * 1024 * 1024)  # S3's smallest part, to get several parts
    monkeypatch.setattr(tempfile, "mkstemp", lambda *a, **k: pytest.fail("the labelled copy touched /tmp"))
    rows = [[i, "yes" if i % 7 == 0 else "no", "x" * 40] for i in range(200_000)]  # about 12 MB
    put_csv(s3, "training/big.csv", ["id", "flag", "pad"], rows)
    parts = []
    real = s3.upload_part
    monkeypatch.setattr(s3, "upload_part", lambda **kw: parts.append(len(kw["Body"])) or real(**kw))
    monkeypatch.setattr(label, "_s3", lambda: s3)
    event = {
        "action": "self_exclusion",
        "source": {"bucket": "data", "prefix": "training/"},
        "output": {"bucket": "models", "prefix": "labelled/big/"},
        "label": "y",
        "source_column": "flag",
    }
    result = label.handler(event)
    assert result["rows"] == 200_000 and result["positives"] == len(range(0, 200_000, 7))
    assert len(parts) >= 2 and max(parts) < 6 * 1024 * 1024 and all(p >= 5 * 1024 * 1024 for p in parts[:-1])
    copy = read_csv(s3, "models", "labelled/big/data.csv")
    assert copy[0] == ["id", "pad", "y"] and len(copy) == 200_001 and copy[-1] == ["199999", "x" * 40, "0"]

    put_csv(s3, "training/big.csv", ["id", "flag", "pad"], [*rows, [200_000, "maybe", "x"]])
    event["output"] = {"bucket": "models", "prefix": "labelled/bad/"}
    with pytest.raises(label.InvalidData, match="'maybe' is not a yes/no flag"):
        label.handler(event)
    assert "Contents" not in s3.list_objects_v2(Bucket="models", Prefix="labelled/bad/")  # nothing half-written
    assert s3.list_multipart_uploads(Bucket="models").get("Uploads", []) == []  # and no upload left open


# --------------------------------------------------------------------------- label: operators' labels


DATA = ["user_id", "stake", "self_excluded"]


def _self_exclusion(output: str = "labelled/op/", **change) -> dict:
    return label.handler(
        {
            "action": "self_exclusion",
            "source": {"bucket": "data", "prefix": "training/"},
            "labels": {"bucket": "data", "prefix": "labels/"},
            "output": {"bucket": "models", "prefix": output},
            "label": "self_excluded",
            "source_column": "self_excluded",
            **change,
        }
    )


def _labels_by_user(s3, key: str = "labelled/op/data.csv") -> dict[str, list[str]]:
    rows = read_csv(s3, "models", key)
    header = rows[0]
    out: dict[str, list[str]] = {}
    for row in rows[1:]:
        out.setdefault(row[header.index("user_id")], []).append(row[-1])
    return out


def test_operator_labels_win_over_the_anchor_and_are_counted_by_source(s3):
    put_csv(s3, "training/a.csv", DATA, [["p1", 10, "no"], ["p2", 20, "yes"], ["p3", 30, "no"], ["p1", 11, "no"]])
    put_csv(s3, "labels/review.csv", ["user_id", "label"], [["p1", "yes"], ["p2", "0"]])
    result = _self_exclusion()
    assert result["rows"] == 4 and result["positives"] == 2  # p1's two rows by the operator; p2 cleared
    assert result["labels"] == {"operator": 3, "anchor": 1}
    assert _labels_by_user(s3) == {"p1": ["1", "1"], "p2": ["0"], "p3": ["0"]}


def test_without_label_files_the_anchor_labels_every_row(s3):
    put_csv(s3, "training/a.csv", ["stake", "self_excluded"], [[10, "no"], [20, "yes"]])  # no user_id needed
    result = _self_exclusion()
    assert result["labels"] == {"operator": 0, "anchor": 2} and result["positives"] == 1


def test_operator_labels_joined_by_user_id_survive_a_reordered_and_extended_prefix(s3):
    rows = [[f"p{i}", i, "yes" if i % 5 == 0 else "no"] for i in range(40)]
    put_csv(s3, "training/b.csv", DATA, rows)
    put_csv(s3, "labels/2024.csv", ["user_id", "label"], [[f"p{i}", "1"] for i in range(0, 40, 3)])
    put_csv(s3, "labels/2025.csv", ["label", "user_id"], [["false", f"p{i}"] for i in range(1, 40, 7) if i % 3])
    first = _self_exclusion()
    before = _labels_by_user(s3)
    # the prefix changes: rows shuffled, split over files, a file sorting first with new players, the label files
    # rewritten in another order and one more added for a new player
    shuffled = rows[::-1]
    put_csv(s3, "training/b.csv", DATA, shuffled[:20])
    put_csv(s3, "training/c.csv", DATA, shuffled[20:])
    put_csv(s3, "training/a.csv", DATA, [["p90", 1, "no"], ["p91", 2, "yes"]])
    put_csv(s3, "labels/2024.csv", ["user_id", "label"], [[f"p{i}", "1"] for i in reversed(range(0, 40, 3))])
    put_csv(s3, "labels/0-new.csv", ["user_id", "label"], [["p91", "no"]])
    second = _self_exclusion("labelled/op2/")
    after = _labels_by_user(s3, "labelled/op2/data.csv")
    assert {u: v for u, v in after.items() if u in before} == before
    assert after["p91"] == ["0"] and after["p90"] == ["0"]
    assert before["p3"] == ["1"] and before["p1"] == ["0"] and before["p5"] == ["1"]  # operator, operator, anchor
    assert second["labels"] == {"operator": first["labels"]["operator"] + 1, "anchor": first["labels"]["anchor"] + 1}


@pytest.mark.parametrize(
    "labels, match",
    [
        (
            {"labels/a.csv": (["user_id", "label"], [["p1", "1"], ["p404", "1"], ["p405", "0"]])},
            r"does not have: s3://data/labels/a.csv line 3, user_id p404: no row of the data has it; "
            r"s3://data/labels/a.csv line 4, user_id p405",
        ),
        (
            {
                "labels/a.csv": (["user_id", "label"], [["p1", "1"]]),
                "labels/b.csv": (["user_id", "label"], [["p1", "no"]]),
            },
            r"s3://data/labels/b.csv line 2, user_id p1: labelled 0, but 1 at s3://data/labels/a.csv line 2",
        ),
        (
            {"labels/a.csv": (["user_id", "label"], [["p1", "1"], ["p2", "1"], ["p1", "0"]])},
            r"s3://data/labels/a.csv line 4, user_id p1: labelled 0, but 1 at s3://data/labels/a.csv line 2",
        ),
        (
            {"labels/a.csv": (["user_id", "label"], [["p1", "maybe"], ["p2", ""], ["", "1"]])},
            r"a.csv line 2, user_id p1: 'maybe' is not a yes/no flag.*a.csv line 3, user_id p2: the label is empty; "
            r"s3://data/labels/a.csv line 4: user_id is empty",
        ),
        (
            {"labels/a.csv": (["p1", "1"], [["p2", "0"]])},
            r"s3://data/labels/a.csv line 1: the header must name user_id and label, got 'p1,1'",
        ),
        (
            {"labels/a.csv": (["user_id", "label"], [[f"p{i}", "x"] for i in range(30)])},
            r"line 21, user_id p19: 'x' is not a yes/no flag.*; and 10 more$",
        ),
    ],
)
def test_bad_operator_labels_fail_with_row_level_reasons_and_write_nothing(s3, labels, match):
    put_csv(s3, "training/a.csv", DATA, [["p1", 10, "no"], ["p2", 20, "yes"]])
    for key, (header, rows) in labels.items():
        put_csv(s3, key, header, rows)
    with pytest.raises(label.InvalidData, match=match):
        _self_exclusion()
    assert "Contents" not in s3.list_objects_v2(Bucket="models")  # nothing half-written
    assert s3.list_multipart_uploads(Bucket="models").get("Uploads", []) == []  # and no upload left open


def test_an_unknown_player_found_after_several_parts_aborts_the_upload(s3, monkeypatch):
    monkeypatch.setattr(label, "PART_BYTES", 5 * 1024 * 1024)
    monkeypatch.setattr(label, "_s3", lambda: s3)
    put_csv(s3, "training/big.csv", DATA + ["pad"], [[f"p{i}", i, "no", "x" * 40] for i in range(150_000)])
    put_csv(s3, "labels/a.csv", ["user_id", "label"], [["p7", "1"], ["ghost", "1"]])
    parts = []
    real = s3.upload_part
    monkeypatch.setattr(s3, "upload_part", lambda **kw: parts.append(1) or real(**kw))
    with pytest.raises(label.InvalidData, match="labels/a.csv line 3, user_id ghost: no row of the data has it"):
        _self_exclusion()
    assert parts  # parts were uploaded before the unknown player showed ...
    assert "Contents" not in s3.list_objects_v2(Bucket="models")  # ... and none became an object
    assert s3.list_multipart_uploads(Bucket="models").get("Uploads", []) == []


def test_operator_labels_need_a_user_id_column_and_a_prefix_apart(s3):
    put_csv(s3, "training/a.csv", ["stake", "self_excluded"], [[10, "no"]])
    put_csv(s3, "labels/a.csv", ["user_id", "label"], [["p1", "1"]])
    with pytest.raises(label.InvalidData, match="no user_id column: operators' labels are joined"):
        _self_exclusion()
    with pytest.raises(label.InvalidEvent, match="labels prefix and the source prefix must lie apart"):
        _self_exclusion(labels={"bucket": "data", "prefix": "training/labels/"})
    assert "Contents" not in s3.list_objects_v2(Bucket="models")


def test_prepare_names_the_operators_label_files_for_the_local_work_team(s3):
    put_csv(s3, "training/a.csv", HEADER, [["p1", 10, "casino"]])
    _prepare()
    assert "workforce.json" not in str(s3.list_objects_v2(Bucket="models", Prefix="labeling/run/input/"))
    label.handler(
        {
            "action": "prepare_ground_truth",
            "source": {"bucket": "data", "prefix": "training/"},
            "output": {"bucket": "models", "prefix": "labeling/run/input/"},
            "labels": {"bucket": "data", "prefix": "labels"},
            "categories": ["0", "1"],
        }
    )
    workforce = s3.get_object(Bucket="models", Key="labeling/run/input/workforce.json")["Body"].read()
    assert json.loads(workforce) == {"labels": "s3://data/labels/"}


def test_prepare_never_shows_the_workers_the_label_being_asked_for(s3):
    put_csv(s3, "training/a.csv", ["user_id", "stake", "self_excluded"], [["p1", 10, "true"]])
    label.handler(
        {
            "action": "prepare_ground_truth",
            "source": {"bucket": "data", "prefix": "training/"},
            "output": {"bucket": "models", "prefix": "labeling/run/input/"},
            "categories": ["0", "1"],
            "label": "self_excluded",
        }
    )
    assert _manifest(s3) == [{"source": "stake=10", "vwt-user-id": "p1"}]
