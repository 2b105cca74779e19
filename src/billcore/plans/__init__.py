"""Volume discount plans, quotas and service wallets, consumed while a session is rated (the
discounts issue). Kept as a layer of its own between charging (which consumes them) and rating
(which prices before they apply); empty until that issue lands."""
