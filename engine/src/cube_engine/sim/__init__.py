"""The deterministic business simulation, one module per business type."""
