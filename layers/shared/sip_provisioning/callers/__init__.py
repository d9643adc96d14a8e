"""Each caller's language, both ways: what it sends becomes a request of ours, what we answer becomes its words."""
