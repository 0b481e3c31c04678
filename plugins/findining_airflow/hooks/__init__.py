"""Hooks over the Amazon provider's: Athena for the A/B analysis, Bedrock for the feedback digest."""
