"""Run the permsvc command line: ``python -m permsvc``."""

from permsvc.cli.main import main

raise SystemExit(main())
