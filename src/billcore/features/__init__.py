"""Abbreviated dialing and service configuration (issue 14, rating-and-tabs.md §3.2, §3.3)."""
