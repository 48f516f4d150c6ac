"""A small Flask site with its own pages and login that mounts the notebook at /notebook.

    python app.py                                        # http://127.0.0.1:5000/
    gunicorn -k gevent -w 1 -b 127.0.0.1:5000 app:app    # the same, under gunicorn

Log in as ada / lovelace. NOTEBOOK_ROOT_DIR (default: the current directory) is served;
PORT picks the port of `python app.py` (0: a free one).
"""

from gevent import monkey

monkey.patch_all()  # first thing: kernels and the kernel WebSocket run on gevent

import os
import secrets
from urllib.parse import urlsplit

from flask import Flask, Request, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.security import check_password_hash, generate_password_hash

from flask_notebook import Notebook

app = Flask(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("SECRET_KEY") or secrets.token_hex(32),  # signs the session cookie
    SESSION_COOKIE_SAMESITE="Lax",
    NOTEBOOK_ROOT_DIR=os.environ.get("NOTEBOOK_ROOT_DIR") or os.getcwd(),
)
login_manager = LoginManager(app)


class User(UserMixin):
    def __init__(self, user_id: str, name: str, password: str) -> None:
        self.id, self.name, self.password_hash = user_id, name, generate_password_hash(password)


# A real site keeps users, and only their password hashes, in its database.
USERS = {user.id: user for user in [User("ada", "Ada Lovelace", "lovelace"),
                                    User("grace", "Grace Hopper", "cobol")]}


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return USERS.get(user_id)


def notebook_user(_request: Request) -> dict[str, str] | None:
    """The notebook asks this on every request and WebSocket: the site's user, or None."""
    if not current_user.is_authenticated:
        return None
    return {"username": current_user.id, "name": current_user.name}


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
