"""``python -m bench``: every quick benchmark in ``bench/``, one table each."""

from __future__ import annotations

import importlib

QUICK = ("bench_extract", "bench_store", "bench_store_rows")  # each a module with main(argv)


def main() -> None:
    for index, name in enumerate(QUICK):
        module = importlib.import_module(f"bench.{name}")
        if index:
            print()
        print(f"== {name}: {module.__doc__.splitlines()[0] if module.__doc__ else ''}")
        print()
        module.main([])


if __name__ == "__main__":
    main()
