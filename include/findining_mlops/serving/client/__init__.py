"""The app's side of serving: the seed's ``mlService``, its resilience, fallbacks and answer cache."""
