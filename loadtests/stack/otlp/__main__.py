"""``python -m loadtests.stack.otlp``: the OTLP receiver (see main.py)."""

from loadtests.stack.otlp.main import main

if __name__ == "__main__":
    raise SystemExit(main())
