"""Jupyter server settings of every server on the hub."""

import os

c = get_config()  # noqa: F821

# German JupyterLab (deploy/jupyter/lab-settings/overrides.json), no calls to the internet for news.
if os.environ.get("NNKURS_LAB_SETTINGS"):
    c.LabApp.app_settings_dir = os.environ["NNKURS_LAB_SETTINGS"]

# MathJax 2 for the Formgrader and the feedback files (deploy/jupyter-data/nbconvert/templates) from the
# user's own server, <server>/static/MathJax.js, instead of a CDN: works without internet access.
DEPLOY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
c.ServerApp.extra_static_paths = [os.path.join(DEPLOY, "node_modules", "mathjax")]

# German error pages (404, 403, ...) of the users' servers instead of jupyter_server's English ones.
c.ServerApp.extra_template_paths = [os.path.join(DEPLOY, "templates", "singleuser")]
