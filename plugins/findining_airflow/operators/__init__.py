"""Operators, laid out as the Amazon provider lays out its own."""
