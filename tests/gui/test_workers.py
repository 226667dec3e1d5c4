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
