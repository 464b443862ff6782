# SPDX-License-Identifier: MIT
"""Command line: python3 -m aopgen --schema DIR --out DIR [--check]."""
import argparse
import sys

from .emit import generate
from .loader import SchemaError
from .model import SchemaErrors, load_schema


def main(argv=None):
    p = argparse.ArgumentParser(prog="aopgen", description=__doc__)
    p.add_argument("--schema", required=True, help="folder of schema/*.yaml")
    p.add_argument("--out", required=True, help="folder to write the generated files into")
    p.add_argument("--check", action="store_true",
                   help="write nothing; exit 1 when a file would change")
    args = p.parse_args(argv)
    try:
        schema = load_schema(args.schema, "schema")
    except SchemaErrors as e:
        for err in e.errors:
            print(err, file=sys.stderr)
        return 2
    except SchemaError as e:
        print(e, file=sys.stderr)
        return 2
    changed = generate(schema, args.out, check=args.check)
    if args.check and changed:
        for path in changed:
            print(f"stale: {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
