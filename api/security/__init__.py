"""Who is calling: passwords, tokens, service keys and the policy every route declares."""
