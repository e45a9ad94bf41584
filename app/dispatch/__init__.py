"""派单: eligible teams, explained ranking, offers, expiry and escalation, batch assignment."""
