"""The web console at ``/console``: hand-written HTML, CSS and ES modules shipped as package data."""
