"""Volunteers: self-registration, review by the site admin of their region, skills."""
