"""The ledger: the only writer of ledger rows and balances (DESIGN rule 1).

Every balance change is one ledger row (``models.Transaction``) and a move of the balance by
a delta (``balance = balance + δ``, never an absolute value) in the same database
transaction, under the locks the caller holds in the order of ``billcore.locks`` (customer
rows, then account rows, by id). Where each writer lives:

* ``balances``: the single-row moves of a customer's and an account's balance;
* ``services.post_transaction``: balance adjustments and payments (CU-12), with their lock;
* ``postings.post_locked``: rows the billing engine posts for a customer it has locked
  (taxes, invoice rounding, balance resets, subscription fees, collection fees);
* ``transfers``: subscriber-to-subscriber transfers between two accounts (CC-21);
* ``customers.create_customer``: a new customer and its opening funds (CU-08);
* ``batch``: the fast SQL paths — a usage charge, a batch of charges (``charging``), the
  rows of a period close (``invoicing.fastclose``) — in a few statements.

``tests/unit/test_one_balance_writer.py`` fails when a module outside this package writes a
ledger row or a balance, or when anything sets a balance to an absolute value.
"""
