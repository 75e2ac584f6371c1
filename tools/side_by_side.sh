#!/usr/bin/env bash
# Our wheel and MinishLab's `semhash` (PyPI) in one fresh virtual environment: both import,
# and our command indexes and searches. Needs PyPI for MinishLab's package and its needs;
# torch & co. come from the project's .venv, so nothing large is downloaded.
# Usage: tools/side_by_side.sh [WORKDIR]   (make check-install)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
rm -rf "$work/venv" "$work/src" "$work/dist" "$work/photos" "$work/c.semhash"
git -C "$root" archive --prefix=src/ HEAD | tar -x -C "$work"
"$root/.venv/bin/python" -m pip wheel -q --no-deps --no-build-isolation --no-index \
  -w "$work/dist" "$work/src"
python3 -m venv "$work/venv"
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# torch, faiss, ... from the project's environment, behind everything installed here
"$root/.venv/bin/python" -c 'import sys; print("\n".join(p for p in sys.path if p.endswith("-packages")))' \
  > "$site/zz-project-deps.pth"
pip="$work/venv/bin/python -m pip -q --disable-pip-version-check"
$pip install --no-deps "$work"/dist/semantic_hashing-*.whl
$pip install semhash 2>&1 | grep -v 'requires\|dependency conflicts' || true
cd "$work"
"$work/venv/bin/python" - <<'PY'
import semantic_hashing, semhash
print("ours:", semantic_hashing.__file__)
print("MinishLab's:", semhash.__file__, semhash.SemHash.__name__)
import numpy as np
from PIL import Image
rng = np.random.default_rng(0)
for c in "ab":
    for i in range(12):
        arr = (rng.random((28, 28)) * 60).astype(np.uint8)
        arr[:, ::4] = 255 if c == "a" else arr[:, ::4]
        arr[::4, :] = 255 if c == "b" else arr[::4, :]
        (Path := __import__("pathlib").Path)(f"photos/{c}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(f"photos/{c}/{i}.png")
PY
"$work/venv/bin/semhash" index photos -c c.semhash --epochs 1 -q
"$work/venv/bin/semhash" search c.semhash --id 1 -k 3
$pip uninstall -y semhash
"$work/venv/bin/python" -c 'import semantic_hashing; print("after uninstalling MinishLab'"'"'s: ours imports from", semantic_hashing.__file__)'
"$work/venv/bin/semhash" info c.semhash | head -2
echo "side by side: ok"
