"""Self-service provisioning of SignalWire SIP endpoints: the domain shared by every entry point."""
