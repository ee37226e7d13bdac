"""Experiments: each module computes ``results/<name>.json``, draws ``figures/<name>.png``, checks.

Run ``python -m experiments list`` for the catalogue; see ``experiments/_api.py`` for the module
shape.
"""
