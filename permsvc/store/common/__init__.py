"""What every backend does the same way, written once: write planning and audit paging."""
