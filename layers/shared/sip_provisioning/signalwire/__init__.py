"""SignalWire's legacy Relay REST "SIP endpoints" surface: its models and its client."""
