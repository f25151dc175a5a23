"""Issue 15 item 10: the public API is reachable from `import shapsweep`, which stays light."""

import subprocess
import sys


def test_import_shapsweep_stays_light_and_the_api_is_one_attribute_away():
    code = (
        "import sys, shapsweep\n"
        "heavy = [m for m in ('polars', 'torch', 'transformers', 'numpy') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert callable(shapsweep.explain_row) and callable(shapsweep.load_results)\n"
        "assert 'polars' in sys.modules\n"  # loaded on first use, not before
        "assert {'explain_row', 'load_results', 'Explanation'} <= set(dir(shapsweep))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
