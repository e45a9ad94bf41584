"""A typed client of the diandan API, generated from `openapi/openapi.json` (`make client`)."""

from diandan_client._base import ProblemError
from diandan_client.api import Api as Client

__all__ = ["Client", "ProblemError"]
