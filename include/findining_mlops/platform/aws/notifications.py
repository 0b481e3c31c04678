"""The alerts topic on SNS."""

from __future__ import annotations

import re

from findining_mlops.platform.aws.clients import AwsClients

SUBJECT_LIMIT = 100  # SNS refuses longer subjects
MESSAGE_LIMIT = 256 * 1024  # bytes; SNS refuses larger messages
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


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
    def __init__(self, clients: AwsClients, topic_arn: str):
        self.clients = clients
        self.topic = topic_arn

    def publish(self, subject: str, message: str) -> str:
        response = self.clients.sns.publish(TopicArn=self.topic, Message=sns_message(message),
                                            Subject=sns_subject(subject))
        return response["MessageId"]
