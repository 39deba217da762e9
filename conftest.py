"""What the repository's own test runs need (the plugin itself is loaded by its entry point)."""

# Inner pytest runs test the plugin as a user meets it; pytest only honours this at the root.
pytest_plugins = ["pytester"]
