"""Jupyter server settings of the instructors' servers.

nbgrader's JupyterLab extension shows the Formgrader in a frame. JupyterHub >= 4.1 forbids every
frame (`frame-ancestors 'none'`); with one subdomain per user (JupyterHub.subdomain_host) nbgrader's
documentation allows `frame-ancestors 'self'` again: only pages of the instructor's own server may
frame it, no other user's server can ("Formgrader with jupyterhub>=4.1", "Enabling JupyterHub subdomains").
"""

import os

c = get_config()  # noqa: F821
DEPLOY = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

c.ServerApp.tornado_settings = {"headers": {"Content-Security-Policy": "frame-ancestors 'self'"}}

# MathJax 2 for the Formgrader (deploy/formgrader/mathjax.html.j2) from this server: <server>/static/MathJax.js
c.ServerApp.extra_static_paths = [os.path.join(DEPLOY, "node_modules", "mathjax")]
