"""A client for the SIP endpoint provisioner's API, and the `sipctl` command (see client/README.md)."""

from sipctl.client import Client, ConfigurationMissing, ServiceUnreachable
from sipctl.problems import (
    ConfigurationError,
    EndpointAlreadyManaged,
    EndpointNotFound,
    EndpointNotManaged,
    FieldError,
    Forbidden,
    IdempotencyInProgress,
    IdempotencyKeyReused,
    InternalError,
    MalformedRequest,
    PayloadTooLarge,
    ProblemError,
    UnsupportedMediaType,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    UsernameTaken,
    ValidationError,
)
from sipctl.workflows import Workflows

__all__ = [
    "Client",
    "ConfigurationError",
    "ConfigurationMissing",
    "EndpointAlreadyManaged",
    "EndpointNotFound",
    "EndpointNotManaged",
    "FieldError",
    "Forbidden",
    "IdempotencyInProgress",
    "IdempotencyKeyReused",
    "InternalError",
    "MalformedRequest",
    "PayloadTooLarge",
    "ProblemError",
    "ServiceUnreachable",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "UsernameTaken",
    "ValidationError",
    "Workflows",
]
