"""The outside world (SignalWire, SSM, DynamoDB, Secrets Manager) behind the ports the use cases name."""
