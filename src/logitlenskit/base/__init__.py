"""The foundation: data formats, their checks, UI state schema, atomic file writes.

No model and no torch here; every layer above may use it.
"""
