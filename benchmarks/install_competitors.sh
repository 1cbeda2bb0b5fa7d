#!/usr/bin/env bash
# Install the competitors used by benchmarks/ and by the optional comparison tests.
# crowd-kit's declared dependencies pull in transformers and torch, so it is installed
# without them, plus the light dependencies it really imports. Its Wawa breaks on
# scikit-learn >= 1.6 (1.9 seen), hence the pin.
set -euo pipefail
PY=${PYTHON:-python3}
"$PY" -m pip install --no-deps "crowd-kit==1.4.2"
"$PY" -m pip install attrs nltk tqdm "scikit-learn<1.6"
"$PY" -m pip install krippendorff statsmodels
