"""Machinery the verbs share: run once under a key, the guard, managed endpoints, reservations."""
