"""`vwt-deploy predict`: read records (JSON or CSV), call the deployed prediction API, gather the answers.

`PredictionClient` is plain: a base URL, an API key and an HTTP function
`http(method, url, headers, body, timeout) -> (status, headers, body)`, so
tests run it against a local server.
"""

from __future__ import annotations

import csv
import json
import math
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from vwt_deploy.config import Environment
from vwt_deploy.contract import USER_ID_FIELD
from vwt_deploy.errors import ConfigError, VwtError
from vwt_deploy.operate import refuse_prod

HttpFunction = Callable[[str, str, Mapping[str, str], bytes, float], tuple[int, Mapping[str, str], bytes]]
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def urllib_http(
    method: str, url: str, headers: Mapping[str, str], body: bytes, timeout: float
) -> tuple[int, Mapping[str, str], bytes]:
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (https URL from outputs)
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers.items()) if exc.headers else {}, exc.read() or b""
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise VwtError(
            f"cannot reach the prediction API at {url}: {reason}",
            "check the network, and that the environment is up (`vwt-deploy status`)",
        ) from None


# --------------------------------------------------------------------------- input files


def _convert(kind: str, cell: str) -> Any:
    text = cell.strip()
    if kind == "bool":
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"{cell!r} is not true/false")
    if kind in ("int", "float"):
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"{cell!r} is not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{cell!r} is not a finite number")
        if kind == "int":
            if not value.is_integer():
                raise ValueError(f"{cell!r} is not a whole number")
            return int(value)
        return value
    return cell


def read_records(path: Path, feature_types: Mapping[str, str]) -> list[dict]:
    """Records from a JSON file (a list, or {"records": [...]}) or a CSV file with a header.

    CSV cells become the feature's type (int, float, bool, category); an empty cell
    leaves the field out (the API fills the default of an optional feature); a column
    that is no feature is sent as text, so the API names it.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text", "give a JSON or CSV file") from None
    stripped = text.lstrip()
    if path.suffix.lower() == ".json" or stripped.startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from None
        if isinstance(data, dict) and isinstance(data.get("records"), list):
            data = data["records"]
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ConfigError(f'{path}: expected a JSON list of records (objects), or {{"records": [...]}}')
        records = data
    else:
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames:
            raise ConfigError(f"{path}: the CSV file has no header row", "first row: the feature names and user_id")
        records = typed_records(enumerate(reader, start=2), feature_types, str(path), "fix the input file")
    if not records:
        raise ConfigError(f"{path} holds no records")
    return records


def typed_records(
    rows: Iterable[tuple[Any, dict]], feature_types: Mapping[str, str], source: str, hint: str
) -> list[dict]:
    """Records from CSV rows `(where, {column: cell})`: cells typed, empty cells left out;
    ConfigError lists bad cells."""
    records, problems = [], []
    for where, row in rows:
        if None in row:
            problems.append(f"line {where}: more cells than header columns")
            continue
        record: dict[str, Any] = {}
        for column, cell in row.items():
            if cell is None or cell.strip() == "":
                continue
            kind = feature_types.get(column)
            try:
                record[column] = _convert(kind, cell) if kind else cell
            except ValueError as exc:
                problems.append(f"line {where}, column {column}: {exc} (a {kind})")
        records.append(record)
    if problems:
        shown = problems[:20] + ([f"... and {len(problems) - 20} more"] if len(problems) > 20 else [])
        raise ConfigError(f"{source}: {len(problems)} bad cell(s):\n  " + "\n  ".join(shown), hint)
    return records


# --------------------------------------------------------------------------- records drawn from the data set


def refuse_sample_on_prod(env: Environment) -> None:
    refuse_prod(
        env,
        "--sample on prod",
        "it would send real players' records through the API, which starts interventions for them",
        "use --input with records you chose",
    )


MAX_SAMPLE = 10_000
#: rows read at most to draw a sample (a smoke test need not read a whole data set)
MAX_SCANNED_ROWS = 100_000


def check_sample_size(n: int) -> None:
    if not 0 < n <= MAX_SAMPLE:
        raise ConfigError(f"--sample must be between 1 and {MAX_SAMPLE:,}, got {n}")


def _data_keys(s3: Any, bucket: str, prefix: str, env_name: str) -> list[str]:
    from botocore.exceptions import ClientError

    keys = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                if obj["Size"] and name.lower().endswith(".csv") and not name.startswith((".", "_")):
                    keys.append(obj["Key"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise ConfigError(
                f"{env_name} is not deployed: the data bucket {bucket} does not exist",
                f"deploy it with `vwt-deploy up --env {env_name}`",
            ) from None
        raise VwtError(
            f"cannot list s3://{bucket}/{prefix}: {exc}",
            "use credentials of the environment's account that may read its data buckets",
        ) from None
    if not keys:
        raise ConfigError(
            f"no data under s3://{bucket}/{prefix} (CSV files with a header) to draw records from",
            f"write a synthetic data set with `vwt-deploy data sample --env {env_name}`, "
            "or use --input with records of your own",
        )
    return sorted(keys)


def sample_records(
    s3: Any, bucket: str, prefix: str, feature_types: Mapping[str, str], n: int, seed: int = 0, env_name: str = "local"
) -> list[dict]:
    """`n` records drawn at random (seeded) from the CSV files under the prefix (their first MAX_SCANNED_ROWS
    rows), each with the model's features only, typed as the API takes them, and `user_id`."""
    check_sample_size(n)
    import io
    import random

    rng = random.Random(seed)
    keep = (*feature_types, USER_ID_FIELD)
    chosen: list[tuple[int, str, int, dict]] = []
    seen = 0
    for key in _data_keys(s3, bucket, prefix, env_name):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        reader = csv.DictReader(io.TextIOWrapper(body, encoding="utf-8-sig", newline=""))
        lacking = [name for name in feature_types if name not in (reader.fieldnames or [])]
        if lacking:
            raise ConfigError(
                f"s3://{bucket}/{key} has no column(s) {', '.join(lacking)} of the model's features",
                f"write a data set for the catalogue with `vwt-deploy data sample --env {env_name}`",
            )
        for line, row in enumerate(reader, start=2):
            item = (seen, key, line, {c: row.get(c) for c in keep if c in row})
            if seen < n:
                chosen.append(item)
            else:
                j = rng.randrange(seen + 1)
                if j < n:
                    chosen[j] = item
            seen += 1
            if seen >= MAX_SCANNED_ROWS:
                break
        body.close()
        if seen >= MAX_SCANNED_ROWS:
            break
    if not chosen:
        raise ConfigError(
            f"the CSV files under s3://{bucket}/{prefix} hold no rows",
            f"write a synthetic data set with `vwt-deploy data sample --env {env_name}`",
        )
    chosen.sort(key=lambda item: item[0])
    records = typed_records(
        ((f"{line} of {key}", row) for _, key, line, row in chosen),
        feature_types,
        f"s3://{bucket}/{prefix}",
        "fix the data set, or write a new one with `vwt-deploy data sample`",
    )
    for (index, _, _, _), record in zip(chosen, records, strict=True):
        record.setdefault(USER_ID_FIELD, f"sample-{index + 1}")
    return records


# --------------------------------------------------------------------------- the client


class PredictionClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        http: HttpFunction = urllib_http,
        timeout: float = 35.0,
        *,
        token: str | None = None,
        operator: str | None = None,
    ):
        """An operator's client (`api_key`), or a player's device (`token` of `operator`'s identity provider, on
        the device route)."""
        if not base_url:
            raise VwtError(
                "the environment has no prediction API URL (output api_url)", "deploy it with `vwt-deploy up`"
            )
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.token = token
        self.operator = operator
        self.http = http
        self.timeout = timeout

    def url(self, model: str) -> str:
        quoted = urllib.parse.quote(model, safe="")
        if self.token:
            operator = urllib.parse.quote(self.operator or "", safe="")
            return f"{self.base_url}/v1/operators/{operator}/models/{quoted}/predictions"
        return f"{self.base_url}/v1/models/{quoted}/predictions"

    def post(self, model: str, records: Sequence[dict], request_id: str | None = None) -> dict:
        """One request: the parsed 200 answer, or VwtError saying what the API refused and why."""
        body: dict[str, Any] = {"records": list(records)}
        if request_id:
            body["request_id"] = request_id
        try:
            data = json.dumps(body, allow_nan=False).encode()
        except ValueError:
            raise ConfigError(
                "the records hold NaN or Infinity, which JSON cannot carry", "fix the input file"
            ) from None
        credential = {"Authorization": f"Bearer {self.token}"} if self.token else {"x-api-key": self.api_key or ""}
        headers = {"Content-Type": "application/json", "Accept": "application/json", **credential}
        status, resp_headers, raw = self.http("POST", self.url(model), headers, data, self.timeout)
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        if status == 200 and isinstance(answer, dict) and isinstance(answer.get("predictions"), list):
            return answer
        raise self._failure(model, status, resp_headers, answer, raw)

    def _failure(self, model: str, status: int, headers: Mapping[str, str], answer: Any, raw: bytes) -> VwtError:
        answer = answer if isinstance(answer, dict) else {}
        message = str(answer.get("message") or raw[:200].decode("utf-8", "replace") or f"HTTP {status}")
        rid = answer.get("request_id")
        suffix = f" (request id {rid})" if rid else ""
        if status == 400:
            problems = answer.get("problems") or []
            lines = [
                f"record {p.get('record')}, {p.get('field')}: {p.get('problem')}"
                if p.get("record") is not None
                else f"{p.get('field') or 'body'}: {p.get('problem')}"
                for p in problems[:30]
                if isinstance(p, dict)
            ]
            more = int(answer.get("problem_count") or len(problems)) - len(lines)
            if more > 0:
                lines.append(f"... and {more} more")
            return ConfigError(
                f"the API refused the records: {message}{suffix}\n  " + "\n  ".join(lines),
                "fix the input file (record numbers count from 0)",
            )
        if status == 401 and self.token:
            return VwtError(
                f"the API refused the token (HTTP 401){suffix}: it is not a JWT, or it is expired, not yet valid, "
                "signed with another key, or for another audience or issuer",
                "get a new token from the operator's identity provider (--token or VWT_TOKEN)",
            )
        if status == 403 and self.token:
            return VwtError(
                f"the API refused the token's request (HTTP 403): {message}{suffix}",
                "a device token may ask only for its own operator (--operator) and its own player's records",
            )
        if status == 403:
            return VwtError(
                f"the API refused the API key (HTTP 403){suffix}",
                "check the environment's outputs (`vwt-deploy status`) and your AWS credentials",
            )
        if status == 404:
            return ConfigError(f"{message}{suffix}", "pick one of the models the message lists")
        if status in (429, 502, 503, 504):
            retry = {k.lower(): v for k, v in headers.items()}.get("retry-after")
            wait = f"wait {retry} s and " if retry else ""
            return VwtError(f"the API could not predict now (HTTP {status}): {message}{suffix}", f"{wait}try again")
        return VwtError(
            f"the API answered HTTP {status}: {message}{suffix}", "see the Lambda's logs for the request id"
        )

    def predict(
        self, model: str, records: Sequence[dict], chunk_size: int = 1000, request_id: str | None = None
    ) -> dict:
        """Every record's prediction, sending at most `chunk_size` records per request."""
        if not records:
            raise ConfigError("no records to predict")
        base = request_id or f"cli-{uuid.uuid4().hex[:12]}"
        chunks = [records[i : i + chunk_size] for i in range(0, len(records), chunk_size)]
        predictions: list[dict] = []
        versions: list[str] = []
        request_ids: list[str] = []
        for n, chunk in enumerate(chunks):
            rid = base if len(chunks) == 1 else f"{base}-{n}"
            answer = self.post(model, chunk, rid)
            predictions.extend(answer["predictions"])
            request_ids.append(str(answer.get("request_id", rid)))
            version = str(answer.get("model_version", "unknown"))
            if version not in versions:
                versions.append(version)
        return {
            "model": model,
            "model_version": ", ".join(versions),
            "request_ids": request_ids,
            "predictions": predictions,
        }


def api_key_value(key_ids: dict, operator: str, region: str, client: Any = None) -> str:
    """The secret value of `operator`'s API key (API Gateway `get_api_key` with includeValue; `key_ids` is the
    output api_key_ids), read with `client` (the deployment target's: the emulator's for `local`) or the
    default credentials."""
    if not key_ids:
        raise VwtError("the environment has no API keys (output api_key_ids)", "deploy it with `vwt-deploy up`")
    key_id = key_ids.get(operator)
    if not key_id:
        raise VwtError(
            f"the deployment has no API key of operator {operator!r}",
            f"operators with a key: {', '.join(sorted(key_ids))}; after adding one to the catalogue, run "
            "`vwt-deploy up`",
        )
    if client is None:
        import boto3

        client = boto3.client("apigateway", region_name=region)
    try:
        return client.get_api_key(apiKey=key_id, includeValue=True)["value"]
    except Exception as exc:  # botocore: no credentials, denied, not found
        raise VwtError(
            f"cannot read the API key {key_id}: {exc}",
            "use credentials of the environment's account (AWS_PROFILE) that may read API keys",
        ) from None


def format_table(result: dict) -> list[str]:
    rows = result["predictions"]
    risk = any("risk_group" in p for p in rows)
    header = ["user_id", "prediction"] + (["risk_group", "intervention_level"] if risk else [])
    table = [header] + [
        [
            str(p.get("user_id", "")),
            f"{p.get('prediction', float('nan')):.4f}"
            if isinstance(p.get("prediction"), (int, float))
            else str(p.get("prediction")),
        ]
        + ([str(p.get("risk_group", "")), str(p.get("intervention_level", ""))] if risk else [])
        for p in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    lines = [f"model {result['model']}, version {result['model_version']}, request {', '.join(result['request_ids'])}"]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in table]
    return lines
