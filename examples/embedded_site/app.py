"""A small Flask site with its own pages and login that mounts the notebook at /notebook.

    python app.py                                        # http://127.0.0.1:5000/
    gunicorn -k gevent -w 1 -b 127.0.0.1:5000 app:app    # the same, under gunicorn

Log in as ada / lovelace or alan / turing (each has a workspace of their own, and sees only
their own files, kernels and sessions), or as grace / cobol, an administrator, who sees
everyone's kernels and sessions. Workspaces are made under NOTEBOOK_USER_ROOT (default:
NOTEBOOK_ROOT_DIR/users/{username}; NOTEBOOK_ROOT_DIR defaults to the current directory);
NOTEBOOK_SHARED_DIRS (JSON, e.g. {"course": "/srv/course"}) adds read-only folders to every
tree. PORT picks the port of `python app.py` (0: a free one).
"""

from gevent import monkey

monkey.patch_all()  # first thing: kernels and the kernel WebSocket run on gevent

import json
import os
import secrets
from urllib.parse import urlsplit

from flask import Flask, Request, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from flask_notebook import Notebook

ROOT_DIR = os.environ.get("NOTEBOOK_ROOT_DIR") or os.getcwd()
app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_hex(32),  # signs the session cookie
    SESSION_COOKIE_SAMESITE="Lax",
    NOTEBOOK_ROOT_DIR=ROOT_DIR,
    # Each user's own folder, made (mode 0700) on their first visit.
    NOTEBOOK_USER_ROOT=os.environ.get("NOTEBOOK_USER_ROOT") or os.path.join(ROOT_DIR, "users", "{username}"),
    NOTEBOOK_SHARED_DIRS=json.loads(os.environ.get("NOTEBOOK_SHARED_DIRS") or "{}"),
)
login_manager = LoginManager(app)


class User(UserMixin):
    def __init__(self, user_id: str, name: str, password: str, roles: tuple[str, ...] = ()) -> None:
        self.id, self.name, self.password_hash = user_id, name, generate_password_hash(password)
        self.roles = roles


# A real site keeps users, and only their password hashes, in its database.
USERS = {user.id: user for user in [User("ada", "Ada Lovelace", "lovelace"),
                                    User("alan", "Alan Turing", "turing"),
                                    User("grace", "Grace Hopper", "cobol", roles=("admin",))]}


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return USERS.get(user_id)


def notebook_user(_request: Request) -> dict[str, object] | None:
    """The notebook asks this on every request and WebSocket: the site's user, or None.
    The user name names their workspace and owns their kernels; "admin" in the roles lets a
    user see and manage everyone's kernels and sessions."""
    if not current_user.is_authenticated:
        return None
    return {"username": current_user.id, "name": current_user.name, "roles": list(current_user.roles)}


Notebook(app, url_prefix="/notebook", authorize=notebook_user, login_url="login")


@app.get("/")
def index() -> str:
    return render_template("index.html")


@app.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    error = None
    if request.method == "POST":
        user = USERS.get(request.form.get("username", ""))
        if user and check_password_hash(user.password_hash, request.form.get("password", "")):
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        error = "Unknown user or wrong password."
    return render_template("login.html", error=error), 401 if error else 200


@app.get("/logout")
def logout() -> ResponseReturnValue:
    logout_user()
    return redirect(url_for("index"))


@app.errorhandler(404)
def not_found(error: Exception) -> tuple[str, int]:
    return render_template("404.html"), 404


def _safe_next(target: str | None) -> str:
    """Only a path on this site is a place to go after login."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or "\\" in target:
        return url_for("index")
    return target


if __name__ == "__main__":
    import signal

    import gevent
    from gevent.pywsgi import WSGIServer

    server = WSGIServer(("127.0.0.1", int(os.environ.get("PORT", 5000))), app)
    server.start()
    gevent.signal_handler(signal.SIGTERM, server.stop)  # then a normal exit, which stops the kernels
    print(f"Serving on http://127.0.0.1:{server.server_port}/", flush=True)
    server.serve_forever()
