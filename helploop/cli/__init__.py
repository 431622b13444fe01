"""The `helploop` command line."""
