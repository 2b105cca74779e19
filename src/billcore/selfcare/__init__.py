"""The customers' own self-care pages under ``/my/`` (issue 16 §1): an interface, beside the
admin pages (``web``), the JSON API (``api``) and ``/rest/`` (``porta``). What the pages read
and do is ``billcore.portal``'s; who may sign in is ``customers.logins``'."""
