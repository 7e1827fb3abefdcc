"""Self-contained numerical experiments of the papers (e.g. Miconi's gradient alignment)."""
