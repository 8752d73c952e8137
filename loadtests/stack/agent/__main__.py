"""``python -m loadtests.stack.agent``: the stand-in agent (see main.py)."""

from loadtests.stack.agent.main import main

if __name__ == "__main__":
    raise SystemExit(main())
