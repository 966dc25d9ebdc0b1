"""Stage times (service/rag/stages.py): told to the observers registered while they are, once each."""

import threading

from service.rag.stages import Laps, observe_stage, observing


def test_laps_tell_each_stage_its_own_time_while_observed():
    seen = []
    with observing(lambda stage, seconds: seen.append((stage, seconds))):
        laps = Laps()
        laps.lap("embed")
        laps.lap("fuse")
    laps.lap("answer")  # after the block: told to no one
    observe_stage("answer", 1.0)
    assert [stage for stage, _ in seen] == ["embed", "fuse"]
    assert all(seconds >= 0 for _, seconds in seen)


def test_without_an_observer_timing_is_a_no_op():
    Laps().lap("embed")
    observe_stage("answer", 0.5)


def test_an_observer_registered_twice_is_told_once_until_both_blocks_end():
    seen = []

    def observer(stage, seconds):
        seen.append(stage)

    with observing(observer):
        with observing(observer):  # two apps in one process, one histogram
            observe_stage("embed", 0.1)
        observe_stage("fuse", 0.1)  # the other app still runs
    observe_stage("answer", 0.1)
    assert seen == ["embed", "fuse"]


def test_distinct_observers_are_each_told_and_each_left_alone():
    first, second = [], []
    with observing(lambda s, t: first.append(s)):
        with observing(lambda s, t: second.append(s)):
            observe_stage("embed", 0.1)
        observe_stage("fuse", 0.1)
    assert (first, second) == (["embed", "fuse"], ["embed"])


def test_stages_timed_in_a_worker_thread_are_told():
    seen = []
    with observing(lambda stage, seconds: seen.append(stage)):
        worker = threading.Thread(target=lambda: Laps().lap("dense_search"))
        worker.start()
        worker.join()
    assert seen == ["dense_search"]
