"""cube_planner."""
