"""The alerts topic on SNS, with each message archived in the store: SNS keeps no history to
read back, and the state page shows the recent alerts on either backend. The archive is under
``reports/`` so that the read-only monitoring role may read it too; one object per message."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError

from findining_mlops.platform.aws.clients import AwsClients
from findining_mlops.platform.ports import ArtifactStore
from findining_mlops.platform.records import AlertMessage
from findining_mlops.store.json import read_json
from findining_mlops.store.layout import ALERTS_PREFIX, alert_key, alerts_day_prefix

log = logging.getLogger(__name__)

SUBJECT_LIMIT = 100  # SNS refuses longer subjects
MESSAGE_LIMIT = 256 * 1024  # bytes; SNS refuses larger messages
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
RECENT_DAYS = 30  # how far back ``recent`` looks


def sns_subject(subject: str) -> str:
    """SNS refuses line breaks and control characters in a subject and more than 100 characters."""
    text = _CONTROL.sub(" ", subject).strip() or "Find Dining MLOps"
    return text if len(text) <= SUBJECT_LIMIT else text[: SUBJECT_LIMIT - 1] + "…"


def sns_message(message: str) -> str:
    data = message.encode("utf-8")
    if len(data) <= MESSAGE_LIMIT:
        return message
    note = "\n… (truncated)"
    return data[: MESSAGE_LIMIT - len(note.encode())].decode("utf-8", errors="ignore") + note


class SnsNotifications:
    def __init__(self, clients: AwsClients, topic_arn: str, store: ArtifactStore):
        self.clients = clients
        self.topic = topic_arn
        self.store = store

    def publish(self, subject: str, message: str) -> str:
        subject, message = sns_subject(subject), sns_message(message)
        response = self.clients.sns.publish(TopicArn=self.topic, Message=message, Subject=subject)
        now = datetime.now(UTC)
        record: AlertMessage = {"MessageId": response["MessageId"], "TopicArn": self.topic, "Subject": subject,
                                "Message": message, "Timestamp": now.isoformat(timespec="seconds")}
        try:
            self.store.write_bytes(alert_key(now, response["MessageId"]),
                                   json.dumps(record, ensure_ascii=False).encode())
        except (ClientError, BotoCoreError) as exc:  # the alert went out: only the page's copy is missing
            log.warning("alert %s published but not archived under %s: %s", response["MessageId"], ALERTS_PREFIX, exc)
        return response["MessageId"]

    def recent(self, limit: int) -> list[AlertMessage]:
        """The archive's newest messages of the last ``RECENT_DAYS`` days, newest first."""
        found: list[AlertMessage] = []
        today = datetime.now(UTC).date()
        for back in range(RECENT_DAYS):
            if len(found) >= limit:
                break
            keys = self.store.list_keys(alerts_day_prefix(today - timedelta(days=back)))
            found += [read_json(self.store, k) for k in reversed(keys[-(limit - len(found)):])]
        return found[:max(limit, 0)]
