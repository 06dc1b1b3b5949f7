"""Container healthcheck: exit 0 when the URL answers 200 within 3 s.

python -m apicore.healthcheck http://127.0.0.1:8001/readyz
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request


def main(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return 0 if response.status == 200 else 1
    except (urllib.error.URLError, OSError):
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
