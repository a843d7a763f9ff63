"""Reference data (field taxonomy) and the demo market."""
