"""The report: its schema (a leaf every layer may read), verdicts on its rows, and its writers."""
