"""Qt item models: they adapt plain core objects (read from the replica) for views."""
