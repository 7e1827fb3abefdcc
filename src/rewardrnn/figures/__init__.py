"""Figures: one function per figure kind, each taking numbers and returning a matplotlib Figure."""
