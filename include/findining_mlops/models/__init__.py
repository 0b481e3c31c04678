"""The models: one package per model (train, inference, monitoring, requests and, for A/B
tests, outcomes), what every such package provides (``contract``), and what the models share
(``metrics``, ``text``, ``requests``)."""
