"""Analyses built on the capture core.

The collection API, generation, studies' statistics and files, data sets.
"""
