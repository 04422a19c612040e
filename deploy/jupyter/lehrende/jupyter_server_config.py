"""Jupyter server settings of the instructors' servers.

nbgrader's JupyterLab extension shows the Formgrader in a frame. JupyterHub >= 4.1 forbids every
frame (`frame-ancestors 'none'`); with one subdomain per user (JupyterHub.subdomain_host) nbgrader's
documentation allows `frame-ancestors 'self'` again: only pages of the instructor's own server may
frame it, no other user's server can ("Formgrader with jupyterhub>=4.1", "Enabling JupyterHub subdomains").
"""

import os

c = get_config()  # noqa: F821

c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}

# The instructors' page "Kursverwaltung" (course.lab: grade all, report, export) with its launcher card
# (deploy/jupyter-data/jupyter_app_launcher) and a menu "Kurs"; it also keeps DEBUG out of the Formgrader's boxes.
c.ServerApp.jpserver_extensions = {"course.lab": True}


def _lab_settings_with_course_menu() -> str:
    """The common JupyterLab settings (NNKURS_LAB_SETTINGS) plus the menu "Kurs", in a folder of this user."""
    import json
    from pathlib import Path

    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/")
    common = Path(os.environ.get("NNKURS_LAB_SETTINGS", "")) / "overrides.json"
    overrides = json.loads(common.read_text(encoding="utf-8")) if common.is_file() else {}
    overrides["@jupyterlab/mainmenu-extension:plugin"] = {
        "menus": [
            {
                "id": "jp-mainmenu-kurs",
                "label": "Kurs",
                "rank": 990,
                "items": [
                    {
                        "command": "help:open",
                        "args": {"url": f"{prefix}kurs/", "text": "Kursverwaltung", "newBrowserTab": True},
                    },
                    {
                        "command": "help:open",
                        "args": {"url": f"{prefix}kurs/bericht", "text": "Bericht öffnen", "newBrowserTab": True},
                    },
                ],
            }
        ]
    }
    folder = Path.home() / ".cache" / "nn-kurs" / "lab-settings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "overrides.json").write_text(json.dumps(overrides, ensure_ascii=False, indent=2), encoding="utf-8")
    return str(folder)


c.LabApp.app_settings_dir = _lab_settings_with_course_menu()
