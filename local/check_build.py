"""Every function's handler imports from what `sam build` left, as Lambda runs it: from its code,
its layers, the runtime's AWS SDK and the standard library alone (`bench/lambda_driver.py`'s
finder). A module a layer's Makefile leaves out that a function still imports fails here.

    python -m local.check_build        # run by `make sam-build`, after `sam build`
"""

import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run_bench import REPOSITORY_ROOT, TEMPLATE, package_function

IMPORT_AS_LAMBDA = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
from bench.lambda_driver import OnlyWhatLambdaHas
sys.path.pop(0)
code_paths = sys.argv[3:]
sys.path[0:0] = code_paths
sys.meta_path.insert(0, OnlyWhatLambdaHas(code_paths))
importlib.import_module(sys.argv[2])
"""


def main() -> None:
    failed = []
    with tempfile.TemporaryDirectory(prefix="check-build-") as workdir:
        for logical_id in TEMPLATE.functions():
            handler = package_function(Path(workdir), logical_id, logical_id).handler
            code_paths = [str(path) for path in handler.code_paths]
            command = [sys.executable, "-I", "-c", IMPORT_AS_LAMBDA, str(REPOSITORY_ROOT), handler.module, *code_paths]
            imported = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603 - this interpreter, the template's handlers
            print(f"{logical_id:28} {'imports' if imported.returncode == 0 else 'FAILS'}")
            if imported.returncode != 0:
                failed.append(logical_id)
                print(imported.stderr[-2000:], file=sys.stderr)
    if failed:
        raise SystemExit(f"{', '.join(failed)}: the handler does not import from its build")


if __name__ == "__main__":
    main()
