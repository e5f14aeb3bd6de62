"""Staff: officers of the one-stop desks (and, later, administrators), separate from
citizens, signing in at level 2 only (a password and an authenticator code)."""
