#!/bin/sh
# Two flask-notebook replicas under gunicorn, for deploy/replicas/nginx.conf (README,
# "Deployment", "Replicas"). A sketch to adapt: on several machines, run one replica per
# machine (the same command, its own NOTEBOOK_REPLICA_ID), or turn each into a systemd unit
# (ExecStart= the gunicorn line, Environment= the variables, Restart=always).
#
# Every replica needs:
# - the same root (NOTEBOOK_ROOT_DIR, the same real path on every machine: a shared file
#   system): replicas are told apart from other servers by a digest of that path;
# - the same PostgreSQL database (NOTEBOOK_DATABASE_URL) and kernel gateway
#   (NOTEBOOK_GATEWAY_URL): kernels run on the gateway, so any replica can serve any of them;
# - the same token or password (and users file, if any), the same NOTEBOOK_SECRET_KEY (a login
#   cookie made by one replica is then good on the other), and NOTEBOOK_PERSIST_KERNELS=true:
#   a replica that stops (a deploy, a crash) leaves the kernels running for the others;
# - its own NOTEBOOK_REPLICA_ID, stable across its restarts;
# - its own NOTEBOOK_REPLICA_URL: where the other replicas reach it (not through nginx). A
#   kernel has one holder among the replicas, and the others forward its requests and
#   WebSockets there: if the holder dies, the gateway has kept what the kernel sent for it,
#   and the replica that takes the kernel over replays that to every client.
#
# Usage: deploy/replicas/run-replicas.sh   (from the project folder, with the virtualenv's
# gunicorn on PATH; Ctrl-C stops both).
set -eu

: "${NOTEBOOK_ROOT_DIR:=/srv/notebooks}"
: "${NOTEBOOK_DATABASE_URL:=postgresql+psycopg://notebook:secret@db.example.com/notebook}"
: "${NOTEBOOK_GATEWAY_URL:=http://gateway.example.com:8888}"
: "${NOTEBOOK_TOKEN:?set NOTEBOOK_TOKEN (the same for every replica)}"
: "${NOTEBOOK_SECRET_KEY:?set NOTEBOOK_SECRET_KEY (the same for every replica: it signs login cookies)}"
export NOTEBOOK_ROOT_DIR NOTEBOOK_DATABASE_URL NOTEBOOK_GATEWAY_URL NOTEBOOK_TOKEN NOTEBOOK_SECRET_KEY
export NOTEBOOK_PERSIST_KERNELS=true
export NOTEBOOK_TRUST_PROXY=1   # one proxy in front: nginx

pids=""
stop() {
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
    wait
}
trap stop INT TERM

NOTEBOOK_REPLICA_ID=replica-1 NOTEBOOK_REPLICA_URL=http://127.0.0.1:8881 \
    gunicorn -c gunicorn.conf.py -b 127.0.0.1:8881 app:app &
pids="$pids $!"
NOTEBOOK_REPLICA_ID=replica-2 NOTEBOOK_REPLICA_URL=http://127.0.0.1:8882 \
    gunicorn -c gunicorn.conf.py -b 127.0.0.1:8882 app:app &
pids="$pids $!"
wait
