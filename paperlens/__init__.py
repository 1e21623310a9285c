"""The `paperlens` command line (an edge: it calls the same API a user calls)."""
