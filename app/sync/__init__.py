"""The change feed (`GET /sync/changes`): every create, update and delete of the records that
integrators keep in step with national platforms, in commit order, resumable."""
