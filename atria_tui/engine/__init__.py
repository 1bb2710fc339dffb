"""Plan (reconcile, matching), apply and revert, and what they keep: the run store,
the secret store and the per-job write lock. Knows no Textual and no HTTP client.
"""
