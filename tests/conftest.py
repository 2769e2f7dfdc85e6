"""One BLAS/OpenMP thread per process for the whole test run.

``make test`` runs two pytest workers on two cores, and each starts graders, sandboxed workers and notebook kernels.
With torch's default of one thread per core, every process would spread over both cores and they would preempt each
other: two such processes side by side train 3-4x slower than with one thread each (measured on the 2-core CI
machine). Subprocesses inherit the environment, so setting it here, before torch is imported, covers them all.
"""

import os

for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[variable] = "1"

import torch  # noqa: E402

torch.set_num_threads(1)
