"""``import crowdagg`` sets OMP_WAIT_POLICY=PASSIVE unless the user chose a policy, before
any kernel module (and so Numba's OpenMP pool) can start."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_SCRIPT = (
    "import os, sys\n"
    "import crowdagg\n"
    "assert not any(m.startswith('crowdagg.kernels') for m in sys.modules), 'kernels imported by import crowdagg'\n"
    "print(os.environ.get('OMP_WAIT_POLICY'))\n"
)


def _policy(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if env_value is not None:
        env["OMP_WAIT_POLICY"] = env_value
    out = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


def test_passive_by_default():
    assert _policy(None) == "PASSIVE"


@pytest.mark.parametrize("value", ["ACTIVE", "active", ""])
def test_a_users_policy_is_kept(value):
    assert _policy(value) == value
