"""One verb per module, each over the ports in `ports.py`."""
