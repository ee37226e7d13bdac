r"""Start a Dask cluster on Slurm for ``python -m experiments run ... --executor dask --address``.

Written for the README's "Running on many cores or a cluster"; it is not run by the tests (there
is no Slurm here). Run it on a login node, from the repository, with the project installed
(``pip install -c constraints.txt -e '.[cluster]'`` adds dask-jobqueue):

    python docs/examples/slurm_cluster.py --jobs 8 --cores 16 --queue compute --account myproj

It submits ``--jobs`` Slurm jobs of ``--cores`` single-threaded Dask workers each (one worker per
core: every case runs with one torch/BLAS thread, see docs/numerics.md §8), prints the
scheduler's address, writes it to ``dask-scheduler.txt``, and keeps the cluster up until Ctrl-C.
In a second shell on the same node:

    python -m experiments run all --profile full --overwrite-evidence \
        --executor dask --address "$(cat dask-scheduler.txt)"

The workers import ``experiments`` and ``theory`` from the same checkout, so it must lie on a
file system the compute nodes see (home or project space); results, figures and the case cache
are written by the submitting process only.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def main() -> None:
    """Submit the workers, print the scheduler address, wait for Ctrl-C."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=4, help="Slurm jobs (nodes or node shares)")
    p.add_argument("--cores", type=int, default=16, help="cores, hence workers, per job")
    p.add_argument("--memory", default="32GB", help="memory per job")
    p.add_argument("--walltime", default="04:00:00")
    p.add_argument("--queue", default=None, help="partition (#SBATCH -p)")
    p.add_argument("--account", default=None, help="account (#SBATCH -A)")
    args = p.parse_args()

    from dask_jobqueue import SLURMCluster

    cluster = SLURMCluster(
        cores=args.cores,
        processes=args.cores,  # one single-threaded worker process per core
        memory=args.memory,
        walltime=args.walltime,
        queue=args.queue,
        account=args.account,
        python=sys.executable,  # this virtual environment's interpreter on the nodes
        job_extra_directives=[f"--cpus-per-task={args.cores}"],
        job_script_prologue=["export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 JKO_QUIET=1"],
    )
    cluster.scale(jobs=args.jobs)
    Path("dask-scheduler.txt").write_text(cluster.scheduler_address + "\n")
    print(f"scheduler at {cluster.scheduler_address} (also in dask-scheduler.txt); "
          f"{args.jobs} x {args.cores} workers requested; Ctrl-C stops them", flush=True)
    print(cluster.job_script())
    try:
        while True:
            time.sleep(60)
    except KeyboardInterrupt:
        cluster.close()


if __name__ == "__main__":
    main()
