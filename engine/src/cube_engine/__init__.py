"""cube_engine."""
