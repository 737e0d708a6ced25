"""Recipes: stages read from YAML, run as a chain, and the search over candidates."""
