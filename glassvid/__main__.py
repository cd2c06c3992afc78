"""``python -m glassvid`` runs the command line."""

from glassvid.cli import main

main()
