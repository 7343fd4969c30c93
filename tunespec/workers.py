"""Worker processes for the runner's batches: results in batch order, a dead worker noticed, Ctrl-C obeyed.

`concurrent.futures`' process pool, not `multiprocessing.Pool`: when a worker dies (the out-of-memory
killer's SIGKILL) the pool is marked broken and every pending result raises, where `multiprocessing.Pool`
replaces the worker and waits forever for the batch it lost. Workers ignore SIGINT (a terminal's Ctrl-C
reaches the whole process group): the parent alone decides, and stops them with SIGTERM, which makes a
worker discard what it staged and exit without a traceback. Whatever happens, the parent then removes the
temporary files that dead workers (or it) left under the output folder.
"""

from __future__ import annotations

import gc
import os
import signal
from pathlib import Path
from typing import Any, Callable, Iterator

STOP_SECONDS = 5  # how long stopped workers get to discard their files before SIGKILL


class WorkerDied(Exception):
    """A worker process was killed (or crashed) while it had a batch: one line, exit 2."""


def in_workers(batches: list, job: Any, workers: int, discard: Callable[[Any], None]) -> Iterator[Any]:
    """The results of `runner.run_batch` for each batch, in order, from `workers` processes. When one
    batch fails, the others still finish (so that what they staged is discarded) and the first failure
    is raised; when a worker dies, or the parent is interrupted, all stop and nothing they staged stays.
    `discard(result)` throws away what a result staged."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method), initializer=_start_worker,
                               initargs=(job,))
    futures: list = []
    processes: dict = {}
    failure: BaseException | None = None
    try:
        with _ignoring_interrupts():  # the workers are made now, and keep ignoring SIGINT
            futures = [pool.submit(_work, batch) for batch in batches]
            processes = dict(getattr(pool, "_processes", None) or {})
        for future in futures:
            try:
                result = future.result()
            except BrokenProcessPool:
                raise WorkerDied(_death(processes)) from None
            except Exception as error:  # raised in a worker, re-raised here
                failure = failure or error
                continue
            if failure is None:
                yield result
            else:
                discard(result)
    except BaseException:
        _stop(pool, processes)
        for future in futures:  # results that arrived but were never handed on
            if future.done() and not future.cancelled() and future.exception() is None:
                discard(future.result())
        sweep(job)
        raise
    pool.shutdown()
    if failure is not None:
        raise failure


def _death(processes: dict) -> str:
    codes = [process.exitcode for process in processes.values() if process.exitcode not in (None, 0)]
    how = next((f"killed by signal {-code} ({signal.Signals(-code).name})" for code in codes
                if code < 0 and -code in signal.valid_signals()), None)
    how = how or (f"exit code {codes[0]}" if codes else "it disappeared")
    return (f"a worker process died ({how}{', as the out-of-memory killer does' if 'SIGKILL' in how else ''}); "
            "nothing was written; run again, with fewer --jobs if memory is short")


def _stop(pool: Any, processes: dict) -> None:
    """Stop every worker: SIGTERM (they discard their staged files), then SIGKILL the ones still there."""
    processes = {**processes, **(getattr(pool, "_processes", None) or {})}
    for process in processes.values():
        if process.is_alive():
            process.terminate()
    for process in processes.values():
        process.join(STOP_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
    pool.shutdown(wait=False, cancel_futures=True)


def sweep(job: Any) -> None:
    """Remove the temporary files that this run's processes left under the output folder (a killed
    worker's, or one the parent staged in the instant it was interrupted). Only dead processes' files
    and this process's own: another build writing there keeps its files."""
    from tunespec.files import remove_leftovers

    plan = getattr(job, "build", None)
    if plan is None or plan.check or not os.path.isdir(plan.out):
        return
    for folder, _, _ in os.walk(plan.out):
        remove_leftovers(Path(folder), including_mine=True)


class _ignoring_interrupts:
    """SIGINT ignored while worker processes are forked, so that they start ignoring it."""

    def __enter__(self) -> None:
        self.previous = _set_interrupt_handler(signal.SIG_IGN)

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            _set_interrupt_handler(self.previous)


def _set_interrupt_handler(handler: Any) -> Any:
    try:
        return signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread (the API called from a thread): nothing to do
        return None


# --- in the worker -------------------------------------------------------------------------------------

_worker_job: Any = None
_worker_shared: dict = {}


class Stopped(SystemExit):
    """The parent stopped this worker (SIGTERM) during a batch: unwinds it, and its staged files are
    discarded on the way (a SystemExit, so that no traceback is printed)."""


_in_batch = False


def _on_terminate(signum: int, frame: Any) -> None:
    if _in_batch:
        raise Stopped(0)
    os._exit(0)  # idle, or sending a result the parent no longer reads: nothing of ours to clean up


def _start_worker(job: Any) -> None:
    global _worker_job
    _worker_job = job
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_terminate)
    gc.freeze()


def _work(files: list[tuple[str, str]]) -> Any:
    from tunespec.runner import collection_paused, run_batch

    global _in_batch
    _in_batch = True
    try:
        with collection_paused():
            return run_batch(files, _worker_job, _worker_shared)
    except Stopped:
        os._exit(0)
    finally:
        _in_batch = False
