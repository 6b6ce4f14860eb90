"""One module per paper (plus ``start_here``): functions that return plain result dicts."""
