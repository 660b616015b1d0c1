"""Output from collected data: figures, standalone pages.

Reads collection dicts and payloads; knows nothing of widgets.
"""
