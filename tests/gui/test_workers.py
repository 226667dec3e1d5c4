import threading

import pytest

from app.core.jobs import Cancelled, InputError
from app.gui.workers import SerialWorker


def test_progress_is_coalesced_and_the_latest_value_arrives(qtbot):
    worker = SerialWorker("test-worker")
    seen = []

    def job(token, report):
        for i in range(50_000):  # far more than frames: most must be coalesced away
            report(i)
        return "done"

    j = worker.submit(job, on_progress=seen.append)
    qtbot.waitUntil(lambda: j.done, timeout=20000)
    worker.stop()
    assert j.outcome == "succeeded"
    assert seen[-1] == 49_999, "the last value is never dropped"
    assert seen == sorted(seen) and len(seen) < 50_000


def test_jobs_run_in_order_and_outcomes_are_typed(qtbot):
    worker = SerialWorker("test-worker")
    order, errors = [], []

    def record(name):
        def job(token, report):
            order.append(name)
            if name == "bad":
                raise InputError("bad input")
            if name == "cancel":
                raise Cancelled()
            return name

        return job

    jobs = [worker.submit(record(n), on_error=errors.append) for n in ("a", "bad", "cancel", "b")]
    qtbot.waitUntil(lambda: all(j.done for j in jobs), timeout=10000)
    worker.stop()
    assert order == ["a", "bad", "cancel", "b"]
    assert [j.outcome for j in jobs] == ["succeeded", "failed", "cancelled", "succeeded"]
    assert isinstance(errors[0], InputError)


def test_a_job_cancelled_before_it_starts_never_runs(qtbot):
    worker = SerialWorker("test-worker")
    ran = []

    def slow(token, report):
        token.wait(2)
        token.raise_if_cancelled()

    first = worker.submit(slow)
    second = worker.submit(lambda token, report: ran.append(1))
    second.cancel()
    first.cancel()
    qtbot.waitUntil(lambda: first.done and second.done, timeout=5000)
    worker.stop()
    assert ran == [] and second.outcome == "cancelled" and first.outcome == "cancelled"


def _outcome(qtbot, job):
    qtbot.waitUntil(lambda: job.done, timeout=20000)
    return job.outcome


def test_images_worker_removes_a_folder_as_its_first_call_and_closes_its_index(qtbot, hearth_home, tmp_path):
    import sqlite3

    from app.core.images.index import ImageIndex
    from app.gui.images.worker import ImagesWorker

    folder = tmp_path / "photos"
    folder.mkdir()
    seed = ImageIndex()
    seed.add_folder(folder)
    seed.close()

    worker = ImagesWorker()
    errors = []
    assert _outcome(qtbot, worker.remove_folder(str(folder), on_error=errors.append)) == "succeeded", errors
    listed = []
    assert _outcome(qtbot, worker.folders(on_result=listed.append)) == "succeeded"
    assert listed[0][0] == [], "the folder is gone from the library"
    held = []
    assert _outcome(qtbot, worker.submit(lambda cancel, progress: held.append(worker.library()), name="peek")) \
        == "succeeded"
    with qtbot.waitSignal(worker.worker.ended, timeout=20000):
        worker.finish()  # returns at once; the close runs on the worker's thread
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        held[0].folders()


def test_a_model_worker_opens_lazily_switches_models_and_closes_at_finish(qtbot):
    from app.gui.workers import ModelWorker

    class Engine:
        def __init__(self, name):
            self.name, self.closed, self.thread = name, False, threading.get_ident()

        def close(self):
            self.closed = True

    class Worker(ModelWorker):
        thread_name = "test-model-worker"

        def open_model(self, model_id):
            return Engine(model_id)

    worker = Worker()
    assert worker.model is None, "nothing loads until a job needs it"
    seen = []
    job = worker.submit(lambda cancel, progress: seen.append(worker.ensure("a")), name="use-a")
    assert _outcome(qtbot, job) == "succeeded" and seen[0].thread != threading.get_ident(), "not the GUI thread"
    job = worker.submit(lambda cancel, progress: seen.append(worker.ensure("a")), name="again-a")
    assert _outcome(qtbot, job) == "succeeded" and seen[1] is seen[0], "the same model is kept"
    job = worker.submit(lambda cancel, progress: seen.append(worker.ensure("b")), name="use-b")
    assert _outcome(qtbot, job) == "succeeded" and seen[0].closed and not seen[2].closed
    with qtbot.waitSignal(worker.worker.ended, timeout=10000):
        worker.finish()
    assert seen[2].closed and worker.model is None
