"""Pure rules of the service: no I/O, no boto3, no requests, nothing from adapters."""
