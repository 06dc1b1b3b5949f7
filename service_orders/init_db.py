"""Create the orders database if it is missing, then migrate it to head. Idempotent."""

from __future__ import annotations

import logging
from pathlib import Path

from apicore.db import init_database
from service_orders.config import Settings

PACKAGE_DIR = Path(__file__).resolve().parent


def main(database_url: str | None = None) -> None:
    init_database(PACKAGE_DIR, database_url or Settings().database_url)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    main()
