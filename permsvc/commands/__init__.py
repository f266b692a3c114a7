"""One module per operation (``XxxQuery`` reads, ``XxxCommand`` writes), shared by the API, the CLI and tests."""
