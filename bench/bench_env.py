"""Where the bench scripts find their Python, the shared datasets and featx, relative to the repository.

Standard library only: every bench/*.py script calls `ensure_python()` before it imports torch, numpy or
h5py, so that `bench/peers.py` (or `python3 bench/peers.py`) runs in the bench venv whatever Python
started it.

  Python    $FEATX_BENCH_PYTHON, else <repo>/.cache/bench-venv/bin/python (made by bench/setup, which
            ensure_python() runs with --python-only when that venv does not exist yet)
  datasets  $FEATX_DATASETS, else <repo>/../shared/datasets
  featx     $FEATX_BIN, else <repo>/.build/release/featx
"""
import os
import shutil
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
VENV_PYTHON = os.path.join(ROOT, ".cache", "bench-venv", "bin", "python")
_MARK = "FEATX_BENCH_EXEC"   # set on re-exec: the Python the script was handed to, so it never loops


def python() -> str:
    p = os.environ.get("FEATX_BENCH_PYTHON")
    if not p:
        return VENV_PYTHON
    return p if os.sep in p else (shutil.which(p) or p)    # a bare name such as python3: look it up on PATH


def datasets_dir() -> str:
    return os.environ.get("FEATX_DATASETS") or os.path.normpath(os.path.join(ROOT, "..", "shared", "datasets"))


def dataset(name: str) -> str:
    return os.path.join(datasets_dir(), name)


def featx_bin() -> str:
    return os.environ.get("FEATX_BIN") or os.path.join(ROOT, ".build", "release", "featx")


def ensure_python() -> None:
    """Re-executes the running script under the bench Python unless it already runs there."""
    target = python()
    here = os.path.abspath(sys.executable)
    if here == os.path.abspath(target) or os.environ.get(_MARK) == target:
        return
    if not os.path.exists(target):
        if os.environ.get("FEATX_BENCH_PYTHON"):
            sys.exit(f"FEATX_BENCH_PYTHON={target} does not exist")
        print("bench: no .cache/bench-venv yet: running bench/setup --python-only", file=sys.stderr, flush=True)
        r = subprocess.run([os.path.join(BENCH, "setup"), "--python-only"])
        if r.returncode != 0 or not os.path.exists(target):
            sys.exit(f"bench/setup failed (exit {r.returncode}); see its message above")
    env = dict(os.environ)
    env[_MARK] = target
    script = os.path.abspath(sys.argv[0])
    os.execve(target, [target, script] + sys.argv[1:], env)


def cpu_model() -> str:
    """The CPU as the bench reports name it: model name, family/model numbers (an "AMD EPYC" alone does not
    say Zen 2 or Zen 4) and the vector extensions that decide featx's kernels, e.g.
    "AMD EPYC (family 23 model 1; avx2)"."""
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        import platform
        return platform.processor() or "unknown CPU"
    fields = {}
    for line in text.splitlines():
        if not line.strip():
            break                      # the first processor's block is enough
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    flags = set(fields.get("flags", "").split())
    isa = "avx512" if "avx512f" in flags else ("avx2" if "avx2" in flags else "sse")
    extra = [f for f in ("avx512_bf16", "amx_bf16", "avx512_fp16") if f in flags]
    return (f"{fields.get('model name', 'unknown CPU')} (family {fields.get('cpu family', '?')} "
            f"model {fields.get('model', '?')}; {', '.join([isa] + extra)})")
