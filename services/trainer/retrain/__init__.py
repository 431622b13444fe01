"""Nightly retraining: dataset from base data + resolved tickets, candidate training, quality gate."""
