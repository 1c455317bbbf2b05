"""Signing in: the credential the environment names, tokens through msal, and the guards
checked before any key-set call (the tenant, the permission)."""
