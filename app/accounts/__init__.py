"""People who sign in: users, their role grants, and one-time SMS codes."""
