"""The handlers `bench/tracing_options.py` compares: the baseline's create, traced three ways."""
