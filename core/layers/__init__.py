"""Reusable network pieces, one concept per file."""
