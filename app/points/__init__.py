"""Points (积分): earned by confirmed service, adjusted by admins, spent on rewards."""
