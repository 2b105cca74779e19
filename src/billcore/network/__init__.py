"""Network interfaces: the protocols a switch, a NAS or a mobile core speaks to billcore."""
