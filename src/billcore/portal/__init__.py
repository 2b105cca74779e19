"""What a signed-in customer reads and does in its self-care (issue 16 §1), shared by the
pages (``billcore.selfcare``), the apps' API (``/api/v1/me``) and ``/rest/``.

Every function takes ``me`` (``services.Me``: the customer's login, what it may do, who acts)
and touches only that customer's rows: an id of anything else is "not found". It sits above
the domain apps it calls (invoicing, charging, ledger, notifications) and below the
interfaces.
"""
