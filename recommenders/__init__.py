"""Batch recommenders behind one interface (``recommenders.base.Recommender``): pure computation.

Like ``online_models`` (which they may use, never the reverse), nothing here does I/O: data
comes in as arrays and models go out as arrays, so evaluation, the hybrid, the warm start of
the stream and the API treat every model alike.
"""
