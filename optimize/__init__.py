"""optimize package."""
