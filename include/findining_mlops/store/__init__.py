"""The artifact store's contents: the one layout of every key and prefix, JSON documents, daily data partitions,
the A/B test events."""
