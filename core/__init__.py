"""Voices core: conversation definitions, the pure engine, storage and settings.

Nothing in ``core`` imports from ``bot`` or ``admin``.
"""
