"""`python -m reconcile …`: the same CLI as `reconcile …` (e.g. where the venv's bin/ is not on PATH)."""

from .cli import main

main()
