"""Negative feedback analysis (the seed's bedrock-nlp-processor) and the daily digest.

One JSON Schema (``analysis.schema.json``) for the analysis of a piece of feedback, filled
by Amazon Bedrock (``bedrock``) on AWS or by the aspect and sentiment models
(``local``); ``redaction`` prepares the text for either, ``digest`` turns a day of
analyses into a per-restaurant digest and spike alerts.
"""
