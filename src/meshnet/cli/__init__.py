"""The `meshnet` command line and the interactive shell."""
