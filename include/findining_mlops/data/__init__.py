"""Data contracts and the synthetic Find Dining world."""
