"""The native JSON API (``/api/v1``): ``base`` holds the shared plumbing, one module per
concept holds its router, ``v1`` mounts them all. An interface: nothing below imports it."""
