"""Board sources: the ways of reaching a board."""
