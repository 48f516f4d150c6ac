"""`python -m flask_notebook` and the `flask-notebook` command. gevent is patched first."""

from gevent import monkey

monkey.patch_all()

from flask_notebook.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
