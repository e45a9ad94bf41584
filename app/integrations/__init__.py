"""Adapters to outside systems, one module per system, each a thin layer over httpx."""
