"""Who may call: principals, their grants and bearer tokens."""
