"""``python -m mock_servers.reference_as``."""

from .cli import main

raise SystemExit(main())
