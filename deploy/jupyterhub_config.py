"""JupyterHub configuration of the course "Neuronale Netze mit PyTorch" (local demo: `make hub`).

Local authenticator (PAM: the unix accounts that `make hub` creates), one server per user from this
checkout's environment (LocalProcessSpawner with a cgroup per user), nbgrader's exchange, groups
`students` and `instructors`, shared read-only data, an idle culler and German JupyterLab.
Each user gets their own subdomain (`anna.nn-kurs.localhost`), so the instructor's Formgrader may be
framed by the instructor's own JupyterLab without opening any server to framing by another user's.

Settings from the environment: NNKURS_HUB_DIR (state, default /srv/nn-kurs), NNKURS_HUB_HOST
(default nn-kurs.localhost), NNKURS_HUB_PORT (default 8000; the proxy's API and the hub use the
next two ports).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kurs_hub  # noqa: E402

c = get_config()  # noqa: F821

HOST = os.environ.get("NNKURS_HUB_HOST", "nn-kurs.localhost")
PORT = int(os.environ.get("NNKURS_HUB_PORT", "8000"))
STATE = kurs_hub.hub_dir() / "hub"

# --- where the hub listens; every user's server on its own subdomain -------------------------------
c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
c.JupyterHub.subdomain_host = f"http://{HOST}:{PORT}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 1}"
c.ConfigurableHTTPProxy.command = [str(kurs_hub.DEPLOY / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.debug = False
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.template_paths = [str(kurs_hub.DEPLOY / "templates")]
c.JupyterHub.cleanup_servers = True

# --- accounts and groups ---------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_users = {*kurs_hub.all_students(), *kurs_hub.INSTRUCTORS}
c.Authenticator.admin_users = set()
c.JupyterHub.load_groups = {
    "students": {"users": kurs_hub.all_students()},  # with the logins added by `kurs_hub.py konto NAME`
    "instructors": {"users": list(kurs_hub.INSTRUCTORS)},
}

# --- one server per user -----------------------------------------------------------------------------
c.JupyterHub.spawner_class = kurs_hub.make_spawner_class()
c.Spawner.cmd = [str(kurs_hub.user_bin() / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = kurs_hub.user_environment()
c.Spawner.mem_limit = kurs_hub.MEM_LIMIT
c.Spawner.cpu_limit = kurs_hub.CPU_LIMIT
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def pre_spawn_hook(spawner):
    """Students and instructors get different Jupyter configuration (deploy/jupyter/<Rolle>)."""
    groups = {g.name for g in spawner.user.groups}
    spawner.environment = {**spawner.environment, **kurs_hub.role_environment(groups)}


c.Spawner.pre_spawn_hook = pre_spawn_hook

# --- idle culler: stop servers nobody used for an hour ------------------------------------------------
c.JupyterHub.load_roles = [
    # every user may open the grading service's page (their own submissions only: course/service.py)
    {"name": "user", "scopes": ["self", f"access:services!service={kurs_hub.GRADING_SERVICE}"]},
    # instructors see every account in /hub/admin and start, stop and restart the students' servers (a stuck
    # kernel, a full disk); they neither open those servers nor become admins of the hub
    {
        "name": "kursleitung",
        "description": "Lehrende: Konten sehen, Server der Studierenden starten und anhalten",
        "scopes": ["admin-ui", "list:users", "read:users", "read:groups", "read:servers", "servers!group=students"],
        "groups": ["instructors"],
    },
    {
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    },
]
c.JupyterHub.services = [
    kurs_hub.grading_service(PORT + 3),  # grading on submit: course/service.py, /services/bewertung/
    {
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={kurs_hub.CULL_TIMEOUT}"],
    },
]
