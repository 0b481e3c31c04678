"""Retraining and uploaded models: snapshot, train, evaluate against the champion, gate, register."""
