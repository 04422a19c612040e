import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import all_variants, graded  # noqa: E402, F401  (graded is a fixture)


def pytest_generate_tests(metafunc):
    if "variant_name" in metafunc.fixturenames:
        metafunc.parametrize("variant_name", list(all_variants(metafunc.module.VARIANTS)))
