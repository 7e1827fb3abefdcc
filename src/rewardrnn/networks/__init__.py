"""Network families: pure functions over parameter pytrees."""
