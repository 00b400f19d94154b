"""Publishing predictions to SNS: intervention events, and the operator feed. Batches of 10 (SNS's limit).

Each message carries an `event_id` (`<request_id>:<record index>`) so a consumer
that sees a message twice (a retried request, SNS's at-least-once delivery) can
drop the duplicate. Message attributes `model`, `event_type` (and `risk_group`,
`intervention_level` for intervention events) let subscriptions filter.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
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


def _attr(value: str) -> dict:
    return {"DataType": "String", "StringValue": value}


def entries(messages: list[dict], attributes: list[dict[str, str]]) -> list[dict]:
    out = []
    for i, (message, attrs) in enumerate(zip(messages, attributes)):
        out.append({
            "Id": str(i),
            "Message": json.dumps(message, separators=(",", ":"), sort_keys=True),
            "MessageAttributes": {k: _attr(v) for k, v in attrs.items()},
        })
    return out


def _send_chunk(client: Any, topic: str, chunk: list[dict]) -> None:
    pending = chunk
    detail = ""
    for _ in range(ATTEMPTS):
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


def publish(client: Any, topic: str, batch_entries: list[dict]) -> int:
    """Publish every entry; raise PublishFailure naming what could not be sent. Returns the number sent."""
    chunks = [batch_entries[i:i + BATCH] for i in range(0, len(batch_entries), BATCH)]
    # ids must be unique within a batch only; keep them short and stable
    chunks = [[{**e, "Id": str(j)} for j, e in enumerate(chunk)] for chunk in chunks]
    if len(chunks) <= 1:
        for chunk in chunks:
            _send_chunk(client, topic, chunk)
    else:
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(chunks))) as pool:
            for future in [pool.submit(_send_chunk, client, topic, c) for c in chunks]:
                future.result()
    return len(batch_entries)
