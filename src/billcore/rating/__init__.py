"""Services, destinations, tariffs, rates, products and override tariffs: billcore prices usage
itself (the rating issue). Kept as a layer of its own below charging and plans; empty until
that issue lands."""
