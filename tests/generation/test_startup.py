"""Start-up: SynthesisPipeline waits for a stage's load reports itself (distilabel checks every 2.5 s), and a run's
Timeline records when each step loaded, took its first batch and sent its last."""

import logging
import threading
import time

import pytest
from distilabel.pipeline.base import _STEP_LOAD_FAILED_CODE, _STEP_NOT_LOADED_CODE, _STEP_UNLOADED_CODE
from distilabel.steps import LoadDataFromDicts, Step, StepInput

from revdial.generation.pipeline import SynthesisPipeline
from revdial.generation.progress import StepTimes, Timeline


class Passthrough(Step):
    def process(self, inputs: StepInput):  # type: ignore[override]
        yield inputs


@pytest.fixture
def pipeline():
    with SynthesisPipeline(name="startup-test") as pipeline:
        load = LoadDataFromDicts(name="load", data=[{"a": 1}])
        twice = Passthrough(name="twice", resources={"replicas": 2})
        load >> twice
    pipeline.timeline = Timeline()
    pipeline._steps_load_status = {"load": _STEP_NOT_LOADED_CODE, "twice": _STEP_NOT_LOADED_CODE}
    return pipeline


def _report_later(pipeline, updates, delay_s=0.05):
    def report():
        for name, status in updates:
            time.sleep(delay_s)
            with pipeline._steps_load_status_lock:
                pipeline._steps_load_status[name] = status

    thread = threading.Thread(target=report)
    thread.start()
    return thread


def test_the_wait_ends_when_every_replica_has_loaded_and_times_each_step(pipeline):
    started = time.time()
    thread = _report_later(pipeline, [("load", 1), ("twice", 1), ("twice", 2)])
    pipeline._wait_loaded(["load", "twice"])
    thread.join()
    waited = time.time() - started
    assert waited < 2.0  # not distilabel's 2.5 s between checks
    loaded = {name: events["loaded"] for name, events in pipeline.timeline.steps.items()}
    assert set(loaded) == {"load", "twice"}
    assert started <= loaded["load"] <= loaded["twice"] <= started + waited


def test_one_replica_of_two_is_not_loaded(pipeline):
    pipeline._steps_load_status.update(load=1, twice=1)
    thread = _report_later(pipeline, [("twice", 2)], delay_s=0.3)
    started = time.time()
    pipeline._wait_loaded(["load", "twice"])
    thread.join()
    assert time.time() - started >= 0.25


@pytest.mark.parametrize("status", [_STEP_LOAD_FAILED_CODE, _STEP_UNLOADED_CODE])
def test_a_failed_or_already_finished_step_ends_the_wait(pipeline, status):
    # distilabel's own check then reports the failure, or counts a finished step as loaded
    pipeline._steps_load_status.update(load=1, twice=status)
    pipeline._wait_loaded(["load", "twice"])


def test_a_stopped_run_ends_the_wait(pipeline):
    pipeline._stop_called = True
    pipeline._wait_loaded(["load", "twice"])  # nothing ever loads: returns because the run stopped


def test_stock_loading_does_not_wait(pipeline, monkeypatch):
    from distilabel.pipeline import Pipeline

    monkeypatch.setattr(Pipeline, "_run_steps", lambda self, steps: None)
    monkeypatch.setattr(SynthesisPipeline, "fast_start", False)
    pipeline._run_steps(["load", "twice"])  # would wait forever: nothing loads
    assert pipeline.timeline.steps == {}


def _record(message: str, created: float) -> logging.LogRecord:
    record = logging.LogRecord("distilabel.step", logging.INFO, __file__, 0, message, None, None)
    record.created = created
    return record


def test_step_times_keeps_the_first_batch_in_and_the_last_batch_out():
    timeline = Timeline()
    handler = StepTimes(timeline)
    for message, at in [
        ("🚰 Starting yielding batches from generator step 'load_seeds'. Offset: 0", 1.0),
        ("📦 Processing batch 1 in 'generate_request' (replica ID: 1)", 3.0),
        ("📦 Processing batch 0 in 'generate_request' (replica ID: 0)", 2.0),
        ("📨 Step 'generate_request' sending batch 0 to output queue", 4.0),
        ("📨 Step 'generate_request' sending batch 1 to output queue", 5.0),
        ("🏁 Finished running step 'generate_request' (replica ID: 0)", 6.0),
        ("⏳ Waiting for all the steps of stage 0 to load...", 7.0),
    ]:
        handler.handle(_record(message, at))
    assert timeline.steps == {
        "load_seeds": {"first_batch": 1.0},
        "generate_request": {"first_batch": 2.0, "last_batch": 5.0, "finished": 6.0},
    }
    timeline.mark("saved")
    assert set(timeline.to_dict()["marks"]) == {"start", "saved"}


def test_signatures_are_computed_once_during_a_run_and_equal_distilabels(pipeline, monkeypatch):
    from distilabel.pipeline import Pipeline

    expected = (Pipeline.signature.fget(pipeline), Pipeline.aggregated_steps_signature.fget(pipeline))
    dumps = []
    original = Pipeline.dump
    monkeypatch.setattr(Pipeline, "dump", lambda self, **kw: dumps.append(1) or original(self, **kw))

    def run(self, **kwargs):  # what distilabel's run does: look its cache paths up many times
        return [(self.signature, self.aggregated_steps_signature) for _ in range(5)]

    monkeypatch.setattr(Pipeline, "run", run)
    seen = pipeline.run(use_cache=True)
    assert set(seen) == {expected}
    assert len(dumps) == 1
    # outside a run, and in a run given runtime parameters (they change the steps), nothing is kept
    dumps.clear()
    assert (pipeline.signature, pipeline.signature) == (expected[0], expected[0]) and len(dumps) == 2
    dumps.clear()
    pipeline.run(parameters={"twice": {}})
    assert len(dumps) == 5
