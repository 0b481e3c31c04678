"""The alerts topic of the local backend: one JSON line per message in ``alerts.log``."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path

from findining_mlops.platform.records import AlertMessage

log = logging.getLogger(__name__)


class LocalNotifications:
    def __init__(self, path: Path, topic: str):
        self.path = Path(path)
        self.topic = topic

    def publish(self, subject: str, message: str) -> str:
        message_id = str(uuid.uuid4())
        record: AlertMessage = {
            "MessageId": message_id,
            "TopicArn": self.topic,
            "Subject": subject,
            "Message": message,
            "Timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a single O_APPEND write per line: concurrent publishers never interleave their lines
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        log.warning("alert published to %s: %s", self.path, subject)
        return message_id

    def recent(self, limit: int) -> list[AlertMessage]:
        if not self.path.exists() or limit <= 0:
            return []
        lines = [line for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return [json.loads(line) for line in reversed(lines[-limit:])]
