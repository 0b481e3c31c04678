"""Review sentiment: review text in English or Cantonese -> negative / neutral / positive."""
