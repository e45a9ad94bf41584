"""Audit log: who saw or changed what, for personal data and admin actions."""
