"""The composition root: builds a sim from a config, and the command line and its runs."""
