"""Administrative regions: the 12-digit division-code tree."""
