"""Publishing predictions to SNS: intervention events, and the operator feed. Batches of 10 (SNS's limit).

Each message carries an `event_id` (`<request_id>:<record index>`) so a consumer
that sees a message twice (a retried request, SNS's at-least-once delivery) can
drop the duplicate. Message attributes `model`, `event_type` (and `risk_group`,
`intervention_level` for intervention events) let subscriptions filter.
"""

from __future__ import annotations

import json
import time

TYPE_CHECKING = False  # typing is not imported at run time: a shorter cold start
if TYPE_CHECKING:
    from typing import Any

BATCH = 10  # PublishBatch takes at most 10 entries
ATTEMPTS = 3  # a failed entry is sent again, at most this many times in all
WORKERS = 8


class PublishFailure(Exception):
    def __init__(self, topic: str, failed: int, detail: str):
        super().__init__(f"{failed} message(s) could not be published to {topic}: {detail}")
        self.topic = topic
        self.failed = failed
        self.detail = detail


_ENCODE = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
_IDS = [str(i) for i in range(BATCH)]
_pool = None  # the container's thread pool, made when a request first needs more than one batch


def attributes(values: dict[str, str]) -> dict[str, dict]:
    """SNS message attributes (all strings) from a plain mapping; build once and share between entries."""
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


def entries(messages: list[dict], attrs: list[dict]) -> list[dict]:
    """PublishBatch entries; ids are unique within each batch of 10."""
    return [
        {"Id": _IDS[i % BATCH], "Message": _ENCODE(message), "MessageAttributes": a}
        for i, (message, a) in enumerate(zip(messages, attrs, strict=True))
    ]


def _send_chunk(client: Any, topic: str, chunk: list[dict], deadline: float | None) -> None:
    pending = chunk
    detail = ""
    for attempt in range(ATTEMPTS):
        if attempt and deadline is not None and time.perf_counter() >= deadline:
            detail += " (no time left to try again)"
            break
        try:
            response = client.publish_batch(TopicArn=topic, PublishBatchRequestEntries=pending)
        except Exception as exc:  # botocore errors, timeouts: try the whole chunk again
            detail = f"{type(exc).__name__}: {exc}"
            continue
        failed_ids = {f.get("Id") for f in response.get("Failed") or ()}
        if not failed_ids:
            return
        first = (response.get("Failed") or [{}])[0]
        detail = f"{first.get('Code', 'unknown')}: {first.get('Message', '')}".strip()
        pending = [e for e in pending if e["Id"] in failed_ids]
    raise PublishFailure(topic, len(pending), detail)


def publish(client: Any, topic: str, batch_entries: list[dict], deadline: float | None = None) -> int:
    """Publish every entry (batches of 10, in parallel); raise PublishFailure naming what could not be sent."""
    global _pool
    chunks = [batch_entries[i : i + BATCH] for i in range(0, len(batch_entries), BATCH)]
    if len(chunks) <= 1:
        for chunk in chunks:
            _send_chunk(client, topic, chunk, deadline)
        return len(batch_entries)
    if _pool is None:
        from concurrent.futures import ThreadPoolExecutor  # imported when first needed: keeps cold start short

        _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="publish")
    failures = []
    for future in [_pool.submit(_send_chunk, client, topic, c, deadline) for c in chunks]:
        try:
            future.result()
        except PublishFailure as exc:
            failures.append(exc)
    if failures:
        raise PublishFailure(topic, sum(f.failed for f in failures), failures[0].detail)
    return len(batch_entries)
