"""Worker processes for the runner's batches: results in batch order, a dead worker noticed, Ctrl-C obeyed.

A small pool of its own rather than `multiprocessing.Pool` or `concurrent.futures`: each worker has a pipe
of its own, and the parent waits on the pipes and on the processes' sentinels itself, with no helper thread. So a
worker that dies (the out-of-memory killer's SIGKILL) is noticed at once and ends the run with one line —
`multiprocessing.Pool` replaced it and waited forever for the batch it lost — and a worker stopped while
sending a result leaves a half message only in its own pipe, which no thread waits on at exit
(`concurrent.futures`' manager thread did, forever). Workers ignore SIGINT (a terminal's Ctrl-C reaches the
whole process group): the parent alone decides, and stops them with SIGTERM, which makes a worker discard
what it staged and exit without a traceback. Whatever happens, the parent then removes the temporary files
that dead workers (or it) left under the output folder.
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


AHEAD = 2  # batches given to a worker at a time: the one it works on, and the next, waiting in its pipe


class _Worker:
    def __init__(self, context: Any, job: Any) -> None:
        mine, theirs = context.Pipe()
        _room_for_results(theirs)
        self.process = context.Process(target=_serve, args=(theirs, job), daemon=True)
        self.process.start()
        theirs.close()  # the worker holds the only other end: its death is the end of this pipe
        self.pipe = mine
        self.batches: list[int] = []  # the batches it was given and has not answered, oldest first


def _room_for_results(connection: Any) -> None:
    """Let the worker's end of its pipe (a socket pair) hold a whole result unread: a build batch's is about
    190 KB, more than the 208 KB a socket holds with its bookkeeping, and the worker waited, before it could
    start its next batch, for the parent to be scheduled and read it. As large as the system allows (4 MB
    here); where it cannot be set, the worker waits as before."""
    import socket

    try:
        endpoint = socket.socket(fileno=connection.fileno())
    except OSError:  # not a socket (a platform where the pipe is another kind of handle)
        return
    try:
        endpoint.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    except OSError:
        pass
    finally:
        endpoint.detach()  # (the connection keeps its descriptor)


def in_workers(batches: list, job: Any, workers: int, discard: Callable[[Any], None]) -> Iterator[Any]:
    """The results of `runner.run_batch` for each batch, in order, from `workers` processes. When one
    batch fails, the others still finish (so that what they staged is discarded) and the first failure
    is raised; when a worker dies, or the parent is interrupted, all stop and nothing they staged stays.
    `discard(result)` throws away what a result staged."""
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    pool: list[_Worker] = []
    arrived: dict[int, tuple[bool, Any]] = {}  # batch -> (succeeded, result or exception), not yet handed on
    try:
        with _ignoring_interrupts():  # the workers are made now, and keep ignoring SIGINT
            pool = [_Worker(context, job) for _ in range(workers)]
        waiting = list(range(len(batches)))
        for _ in range(AHEAD):  # (each worker one, then each one more: the first batches are shared out alike)
            for worker in pool:
                _give(worker, waiting, batches)
        failure: BaseException | None = None
        for index in range(len(batches)):
            while index not in arrived:
                _collect(pool, arrived, waiting, batches)
            succeeded, result = arrived.pop(index)
            if not succeeded:
                failure = failure or result
            elif failure is None:
                yield result
            else:
                discard(result)
        if failure is not None:
            raise failure
    except BaseException:
        _stop(pool)
        for succeeded, result in arrived.values():  # results that arrived but were never handed on
            if succeeded:
                discard(result)
        sweep(job)
        raise
    _finish(pool)


def _give(worker: _Worker, waiting: list, batches: list) -> None:
    """Send the worker the next batch, if one is left: it finds it waiting in its pipe when it has
    answered the one before, instead of waiting for the parent to be scheduled and send one (the parent
    shares two cores with the workers)."""
    if waiting:
        index = waiting.pop(0)
        worker.batches.append(index)
        try:
            worker.pipe.send((index, batches[index]))
        except OSError:  # it died between two batches
            worker.process.join(STOP_SECONDS)
            raise WorkerDied(_death(worker.process.exitcode)) from None


def _collect(pool: list[_Worker], arrived: dict, waiting: list, batches: list) -> None:
    """Wait for the next result (or a worker's death) and give that worker the next batch. The batch is
    given before the result is unpickled: the worker would otherwise wait for that too (a build batch's
    result, 5,600 records for 16 files, takes about 1 ms; 25 ms over the benchmark's 27 batches)."""
    from multiprocessing.connection import wait
    from multiprocessing.reduction import ForkingPickler

    busy = [worker for worker in pool if worker.batches]
    ready = wait([worker.pipe for worker in busy] + [worker.process.sentinel for worker in busy])
    for worker in busy:
        if worker.pipe not in ready and worker.process.sentinel not in ready:
            continue
        try:
            answer = worker.pipe.recv_bytes()
        except (EOFError, OSError):  # it died, perhaps halfway through sending
            worker.process.join(STOP_SECONDS)
            raise WorkerDied(_death(worker.process.exitcode)) from None
        worker.batches.pop(0)  # (a worker answers its batches in the order it was given them)
        try:
            _give(worker, waiting, batches)
        finally:  # (arrived, so that a run that stops discards what it staged)
            index, succeeded, result = ForkingPickler.loads(answer)  # (what `recv` does after `recv_bytes`)
            arrived[index] = (succeeded, result)


def _death(code: int | None) -> str:
    if code is not None and code < 0 and -code in signal.valid_signals():
        name = signal.Signals(-code).name
        how = f"killed by signal {-code} ({name}){', as the out-of-memory killer does' if name == 'SIGKILL' else ''}"
    else:
        how = f"exit code {code}" if code is not None else "it disappeared"
    return (f"a worker process died ({how}); nothing was written; run again, with fewer --jobs if memory is "
            "short")


def _finish(pool: list[_Worker]) -> None:
    """Tell every worker to end, then wait for them as `_stop` does."""
    for worker in pool:
        try:
            worker.pipe.send(None)
        except OSError:
            pass
    _reap(pool)


def _stop(pool: list[_Worker]) -> None:
    """Stop every worker: SIGTERM (they discard their staged files), then SIGKILL the ones still there."""
    for worker in pool:
        if worker.process.is_alive():
            worker.process.terminate()
    _reap(pool)


def _reap(pool: list[_Worker]) -> None:
    """Wait a little for each worker to end, SIGKILL the ones still there, and close their pipes."""
    for worker in pool:
        worker.process.join(STOP_SECONDS)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join()
        worker.pipe.close()


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

class Stopped(SystemExit):
    """The parent stopped this worker (SIGTERM) during a batch: unwinds it, and its staged files are
    discarded on the way (a SystemExit, so that no traceback is printed)."""


_in_batch = False


def _on_terminate(signum: int, frame: Any) -> None:
    if _in_batch:
        raise Stopped(0)
    os._exit(0)  # idle, or sending a result the parent no longer reads: nothing of ours to clean up


def _serve(pipe: Any, job: Any) -> None:
    """A worker's life: batches in, results (or the exception a batch raised) out, until told to stop."""
    global _in_batch
    from tunespec.files import join_run
    from tunespec.runner import collection_paused, run_batch

    join_run(os.getppid())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_terminate)
    gc.freeze()
    shared: dict = {}
    while True:
        try:
            task = pipe.recv()
        except (EOFError, OSError):  # the parent is gone
            os._exit(0)
        if task is None:
            return
        index, files = task
        # The batch's garbage is collected once its result is sent and dropped: the collection then does not
        # go through the result's records (the benchmark's fresh build: 1.3 ms of a worker's CPU per batch,
        # now 0.4; it finds the same garbage either way).
        with collection_paused():
            _in_batch = True
            try:
                answer = (index, True, run_batch(files, job, shared))
            except Stopped:
                os._exit(0)
            except Exception as error:  # the parent re-raises it (or says what it was)
                answer = (index, False, error)
            finally:
                _in_batch = False
            _send(pipe, answer)
            del answer


def _send(pipe: Any, answer: tuple) -> None:
    try:
        pipe.send(answer)
    except Exception:  # an exception that does not pickle: its words
        pipe.send((answer[0], False, RuntimeError(f"{type(answer[2]).__name__}: {answer[2]}")))
