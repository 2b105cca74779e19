"""The PortaBilling-compatible JSON API facade, ``POST /rest/<Service>/<method>``.

It translates, never decides: every rule lives in the services and selectors it calls.
See ``docs/porta-api.md``.
"""
