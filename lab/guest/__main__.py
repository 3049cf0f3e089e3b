"""python -m lab.guest build [--force] | info

`build` makes the lab guest's images if the cache lacks them (the first time takes minutes: packages
are downloaded) and prints the manifest; `info` prints it without building.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from lab.guest import BuildError, cache_root, images
from lab.guest.build import MANIFEST, ensure_key
from lab.guest.recipe import recipe_hash


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab.guest", description="the lab guest image")
    parser.add_argument("action", choices=("build", "info"))
    parser.add_argument("--force", action="store_true", help="rebuild the images even if cached")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(message)s")
    if args.action == "info":
        _, public_key = ensure_key(cache_root())
        manifest = cache_root() / recipe_hash(public_key) / MANIFEST
        if not manifest.exists():
            print(f"not built yet (would be {manifest.parent})", file=sys.stderr)
            return 1
        print(manifest.read_text())
        return 0
    try:
        guest = images(force=args.force)
    except BuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(json.dumps({"directory": str(guest.directory), "key": str(guest.key), **guest.manifest},
                     indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
