"""`flask-notebook user add|remove|passwd`: manage the users file (NOTEBOOK_USERS_FILE).

Passwords are asked twice on a terminal, or read as one line from stdin otherwise (for
scripts: ``echo "$PW" | flask-notebook user add alice``). Exit status 2 for bad input (a bad
name, an unknown or existing user, passwords that differ, no users file given), 1 when the
file cannot be written. Passwords are never printed or logged.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from .core import errors
from .core.userdb import UserDB

USAGE_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flask-notebook user",
                                     description="Manage the users who log in with their own password.")
    parser.add_argument("--users-file", default=None, metavar="PATH",
                        help="the users file (default: $NOTEBOOK_USERS_FILE)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{add,remove,passwd}")
    add = commands.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="an administrator: sees and manages everything")
    add.add_argument("--display-name", default=None, help="the name shown in the notebook (default: NAME)")
    commands.add_parser("remove", help="remove a user: their logins end at once").add_argument("name")
    commands.add_parser("passwd", help="set a user's password: their logins end at once").add_argument("name")
    for sub in commands.choices.values():  # also accepted after the command
        sub.add_argument("--users-file", default=argparse.SUPPRESS, metavar="PATH", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    path = args.users_file or os.environ.get("NOTEBOOK_USERS_FILE")
    if not path:
        return _fail("no users file: pass --users-file PATH or set NOTEBOOK_USERS_FILE")
    if os.path.isdir(path):
        return _fail(f"{path} is a directory, not a users file")
    try:
        db = UserDB(path)
        if args.command == "add":
            password = _read_password()
            if password is None:
                return USAGE_ERROR
            db.add(args.name, password, admin=args.admin, display_name=args.display_name)
            print(f"added user {args.name}" + (" (administrator)" if args.admin else ""), file=sys.stderr)
        elif args.command == "remove":
            db.remove(args.name)
            print(f"removed user {args.name}", file=sys.stderr)
        else:
            if db.get(args.name) is None:  # before asking for a password in vain
                raise errors.NotFound(f"no user {args.name!r} in {db.path}")
            password = _read_password()
            if password is None:
                return USAGE_ERROR
            db.passwd(args.name, password)
            print(f"changed the password of {args.name}", file=sys.stderr)
    except errors.NotebookError as exc:
        return _fail(exc.message)
    except OSError as exc:
        print(f"flask-notebook: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a file that is not a users file: left as it is
        print(f"flask-notebook: {path} is not a users file ({exc})", file=sys.stderr)
        return 1
    return 0


def _read_password() -> str | None:
    """Twice from the terminal, or one line from stdin; None (said why) when unusable."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Again: "):
            _fail("the passwords differ")
            return None
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        _fail("empty password")
        return None
    return password


def _fail(message: str) -> int:
    print(f"flask-notebook: {message}", file=sys.stderr)
    return USAGE_ERROR
