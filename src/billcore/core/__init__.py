"""Pure-Python billing domain core (no Django imports)."""
