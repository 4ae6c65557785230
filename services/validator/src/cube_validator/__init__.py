"""cube_validator."""
