"""cube_gateway."""
