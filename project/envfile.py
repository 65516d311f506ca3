"""Write `.env` with fresh secrets when there is none.

Standard library only: it runs before settings can load, since settings read `.env`.
`python -m project.envfile [PATH]` writes PATH (default: `.env` beside manage.py) if missing.
"""

from __future__ import annotations

import base64
import os
import secrets
import sys
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parent.parent / ".env"


def new_fernet_key() -> str:
    """A valid Fernet key: 32 random bytes, URL-safe base64."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def env_file_text() -> str:
    return (
        "# Written by `make run`. Keep it secret and keep it: ENCRYPTION_KEYS decrypts the stored\n"
        "# integration secrets. To rotate, put a new key first and keep the old ones after it.\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"ENCRYPTION_KEYS={new_fernet_key()}\n"
    )


def write_env_file(path: Path = DEFAULT_PATH) -> bool:
    """Create `path` with new secrets; return False, touching nothing, when it already exists."""
    try:
        # O_EXCL: never overwrite keys that already encrypt data, even if two runs race.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as env_file:
        env_file.write(env_file_text())
    return True


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_PATH
    if write_env_file(path):
        print(f"Wrote {path} with a new SECRET_KEY and ENCRYPTION_KEYS.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
