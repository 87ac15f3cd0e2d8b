"""``python -m compensa`` runs the command line."""

from compensa.app.cli import main

raise SystemExit(main())
