"""``python -m compensa`` runs the command line."""

from compensa.app.cli import main

if __name__ == "__main__":  # not when a spawned worker process (compensa batch --engine dask) re-imports it
    raise SystemExit(main())
