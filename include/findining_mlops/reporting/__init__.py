"""Human-readable summaries: text for the terminal, HTML pages with plots."""
