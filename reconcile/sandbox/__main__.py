"""`python -m reconcile.sandbox --port N --state FILE`: serve the sandbox org until SIGINT/SIGTERM."""

import argparse

from . import serve


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m reconcile.sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--state", default=None, help="state file (JSON); omitted = in memory only")
    args = parser.parse_args(argv)
    serve(port=args.port, state_path=args.state)


if __name__ == "__main__":
    main()
