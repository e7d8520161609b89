"""Lambda entrypoints: thin front doors that build the container once and call one service per record."""
