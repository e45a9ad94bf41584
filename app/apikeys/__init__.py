"""Integrator API keys: scoped, optionally limited to a region subtree, stored hashed."""
