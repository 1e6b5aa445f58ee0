"""CineStream's typed Python client: ``Client`` (async, over httpx) and the API's schemas as TypedDicts."""

from cinestream_client.client import ApiError, Client
from cinestream_client.schema import OPERATIONS

__all__ = ["OPERATIONS", "ApiError", "Client"]
