"""Frozen, resolved data: the plan of a scenario and what a run produced. No I/O here."""
