"""Realistic, seeded sample data for bando (see data_samples/README.md)."""
