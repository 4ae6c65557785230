"""cube_month_worker."""
