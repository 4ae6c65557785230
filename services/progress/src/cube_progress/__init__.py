"""cube_progress."""
