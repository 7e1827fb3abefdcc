"""Analyses: records of trained networks (behaviour tables) and pure functions over them."""
