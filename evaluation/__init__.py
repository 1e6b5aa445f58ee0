"""Offline evaluation: splits, the suite that scores any ``Recommender``, and its plots."""
