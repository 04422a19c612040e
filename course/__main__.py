import sys

# jsonschema (through nbformat) compiles the RFC 3987 URI grammar at import when the package rfc3987_syntax is
# installed: about a second per command for a URI format nbgrader never checks (as in course.worker).
sys.modules.setdefault("rfc3987_syntax", None)

from course.cli import main  # noqa: E402

sys.exit(main())
