"""The hub's German pages (deploy/templates): complete copies of JupyterHub's templates, checked cheaply here.

The browser test (`test_hub.py`) shows them on a real hub; this test catches a template that no longer parses,
lost one of JupyterHub's blocks (after an upgrade of JupyterHub) or still has English text.
"""

import re
from pathlib import Path

import jinja2
import jupyterhub
import pytest

REPO = Path(__file__).resolve().parents[1]
OURS = REPO / "deploy" / "templates"
UPSTREAM = (
    Path(jupyterhub.__file__).resolve().parents[0].parent.parent.parent.parent / "share" / "jupyterhub" / "templates"
)
COPIES = ["page.html", "home.html", "token.html", "spawn_pending.html", "stop_pending.html", "not_running.html"]
ENGLISH = [
    "Your server", "Stop My Server", "My Server", ">Stop Server", "Event log", "Complete<", "Logout", "Login<",
    ">Home<", "Services", "Token expires", "Permissions", "Never", ">revoke<", ">stop<", ">start<", ">delete<",
    "Request new", "Authorized",
    "not running", "Spawn failed", "Launch", "Relaunch", "Control Panel", "You are requesting", "The error",
    "Jupyter has lots of moons", "gehört zu einem anderen Konto",
]  # fmt: skip


def upstream_dir() -> Path:
    for candidate in (UPSTREAM, Path(jupyterhub.__file__).parents[4] / "share" / "jupyterhub" / "templates"):
        if (candidate / "page.html").is_file():
            return candidate
    import sys

    return Path(sys.prefix) / "share" / "jupyterhub" / "templates"


def environment() -> jinja2.Environment:
    """Like JupyterHub's: our folder first, its own templates also as ``templates/<name>``."""
    upstream = jinja2.FileSystemLoader(str(upstream_dir()))
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(str(OURS)), jinja2.PrefixLoader({"templates": upstream}, delimiter="/"), upstream]
    )
    return jinja2.Environment(loader=loader, autoescape=True)


def blocks(source: str) -> set[str]:
    return set(re.findall(r"{%-?\s*block\s+(\w+)", source))


@pytest.mark.parametrize("name", [*COPIES, "404.html", "error.html", "login.html"])
def test_template_parses_and_is_german(name):
    env = environment()
    source = (OURS / name).read_text(encoding="utf-8")
    env.parse(source)
    env.get_template(name)  # its parents resolve too
    for phrase in ENGLISH:
        assert phrase not in source, (name, phrase)


@pytest.mark.parametrize("name", COPIES)
def test_copy_keeps_jupyterhubs_blocks(name):
    """A copy of one of JupyterHub's templates keeps every block (made for JupyterHub of the pinned version)."""
    upstream = (upstream_dir() / name).read_text(encoding="utf-8")
    ours = (OURS / name).read_text(encoding="utf-8")
    assert blocks(upstream) <= blocks(ours)
    assert f"JupyterHub {jupyterhub.__version__}'s {name}" in ours, "made for another JupyterHub: compare again"


def test_single_user_error_pages_are_german():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(OURS / "singleuser")), autoescape=True)
    page = env.get_template("404.html").render(
        status_code=404, status_message="Not Found", hub_control_panel_url="/hub/home"
    )
    assert '<html lang="de">' in page and "<h1>404: Nicht gefunden</h1>" in page
    assert "Diese Seite gibt es auf diesem Server nicht." in page and 'href="/hub/home"' in page
    page = env.get_template("error.html").render(status_code=403, status_message="Forbidden", message="<x>")
    assert "<h1>403: Kein Zugriff</h1>" in page and "&lt;x&gt;" in page and "Startseite" not in page
