"""``python -m meshnet`` runs the command line."""

from __future__ import annotations

from meshnet.cli.main import main

raise SystemExit(main())
