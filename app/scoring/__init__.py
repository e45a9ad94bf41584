"""Scores: ratings and service flow back into team scores (and, later, points and stars)."""
