import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from harness import all_variants, graded  # noqa: E402, F401  (graded is a fixture)


def pytest_generate_tests(metafunc):
    if "variant_name" in metafunc.fixturenames:
        metafunc.parametrize("variant_name", list(all_variants(metafunc.module.VARIANTS)))


#: Test modules that set up a real JupyterHub: they share the course's unix accounts and the users' course
#: environment under /var/cache/nn-kurs (``deploy/kurs_hub.py setup``), so one runs after the other, also when
#: pytest-xdist gives them to two workers.
HUB_MODULES = {"test_hub", "test_service_hub"}


@pytest.fixture(scope="module", autouse=True)
def one_hub_at_a_time(request):
    if request.module.__name__.rsplit(".", 1)[-1] not in HUB_MODULES:
        yield
        return
    import fcntl

    with open("/tmp/nn-kurs-hub-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if the test process dies
        yield
