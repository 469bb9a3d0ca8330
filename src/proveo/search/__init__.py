"""Company search."""
