# Source this on the GPU machine (no internet there): installs the carried wheels (.whl/)
# and dsflow itself into /tmp/site (replacing an earlier copy on a warm machine), and puts them on PYTHONPATH.
set -e
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --upgrade --target /tmp/site . 2>&1 | grep -v WARNING || true
export PATH=/tmp/site/bin:$PATH
set +e
