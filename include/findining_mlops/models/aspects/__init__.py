"""Feedback aspects: complaint text in English or Cantonese -> which of the fixed aspects
(food quality, service, price, hygiene, wait, ambience, delivery, other) it is about."""
