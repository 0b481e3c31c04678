"""Restaurant recommendation: P(engage | user, restaurant, context), used to rank candidates."""
