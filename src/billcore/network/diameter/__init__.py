"""Diameter credit control (RFC 6733 base, RFC 4006 Gy): see docs/diameter.md."""
