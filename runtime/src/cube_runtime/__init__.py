"""cube_runtime."""
