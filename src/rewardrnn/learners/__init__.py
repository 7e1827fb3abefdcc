"""Learning rules: each offers init(key) -> state and update(state) -> (state, metrics)."""
