"""The capture core.

The model adapter, the one place that opens an nnsight trace (:mod:`.capture`), the
reduction that runs inside it (:mod:`.engine`), readouts, requests and a run's kept state.
"""
