"""The runtime: delivery, stream ends, lifecycle, backpressure, fan-out, joins, errors, stopping."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import helpers_nodes as h
import pytest

from dsflow import NodeError, Runtime, load_graph, run_graph

log = h.log  # the shared fixture
run = h.run_on_cpu


def by_stream(frames: list[tuple[int, int]]) -> dict[int, list[int]]:
    """Frame numbers per source id, in arrival order."""
    out: dict[int, list[int]] = defaultdict(list)
    for source_id, frame_num in frames:
        out[source_id].append(frame_num)
    return dict(out)


def index_of(log: h.Log, *event) -> int:
    """Position of the first event equal to ``event`` in the global order."""
    return log.events.index(event)


def last_process_with(log: h.Log, node: str, source_id: int) -> int:
    """Position of the last ``process`` event of ``node`` whose batch held a frame of ``source_id``."""
    hits = [
        i
        for i, e in enumerate(log.events)
        if e[0] == node and e[1] == "process" and any(sid == source_id for sid, _ in e[3])
    ]
    return hits[-1]


def stream_ids(result, prefix: str) -> list[int]:
    """The source ids of the streams whose names start with ``prefix``."""
    return sorted(sid for sid, name in result.streams.items() if name.startswith(prefix))


# -- delivery and stream ends -----------------------------------------------------------------


def test_chain_delivers_every_frame_once_in_order(log):
    graph = h.graph(
        """
        queue-size: 2
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [20, 20, 20], batch-size: 4}}
          - {name: mid, type: test.record, input: src, params: {tag: $TAG}}
          - {name: out, type: test.sink, input: mid, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph)

    assert result.error is None
    assert not result.interrupted
    assert result.stream_frames == {0: 20, 1: 20, 2: 20}
    assert sorted(result.streams.values()) == ["src-0", "src-1", "src-2"]
    for node in ("mid", "out"):
        assert by_stream(log.frames(node)) == {sid: list(range(20)) for sid in range(3)}
    stats = {s.name: s for s in result.nodes}
    assert (stats["src"].batches, stats["src"].frames) == (15, 60)
    assert (stats["mid"].batches, stats["mid"].frames) == (15, 60)
    assert (stats["out"].batches, stats["out"].frames) == (15, 60)
    # The sink got the very batch objects the middle node passed on (a single consumer needs no copy).
    assert all(a is b for a, b in zip(log.batches["mid"], log.batches["out"], strict=True))


def test_every_stream_end_reaches_every_node_once_before_stop(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [3, 8, 5]}}
          - {name: mid, type: test.record, input: src, params: {tag: $TAG}}
          - {name: out, type: test.sink, input: mid, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph)

    assert result.error is None
    for node in ("mid", "out"):
        assert sorted(log.ends(node)) == [0, 1, 2]
        stop = index_of(log, node, "stop")
        for sid in range(3):
            end = index_of(log, node, "end_stream", sid)
            assert last_process_with(log, node, sid) < end < stop
    for sid in range(3):  # the middle node's hook runs before it forwards the marker
        assert index_of(log, "mid", "end_stream", sid) < index_of(log, "out", "end_stream", sid)


def test_a_stream_that_ends_early_is_announced_while_the_others_go_on(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [3, 10]}}
          - {name: out, type: test.sink, input: src, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph)

    assert result.error is None
    assert log.ends("out") == [0, 1]
    end_short = index_of(log, "out", "end_stream", 0)
    later_frames_of_long = [i for i, e in enumerate(log.events) if e[:2] == ("out", "process") and (1, 3) in e[3]]
    assert later_frames_of_long
    assert end_short < later_frames_of_long[0]
    assert by_stream(log.frames("out")) == {0: [0, 1, 2], 1: list(range(10))}


def test_stream_end_follows_the_streams_last_frames_with_batches_across_streams(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [2, 3, 7], batch-size: 4}}
          - {name: out, type: test.sink, input: src, params: {tag: $TAG}}
        """,
        log,
    )
    assert run(graph).error is None
    for sid, frames in by_stream(log.frames("out")).items():
        assert last_process_with(log, "out", sid) < index_of(log, "out", "end_stream", sid)
        assert frames == list(range([2, 3, 7][sid]))


def test_streams_a_source_leaves_open_are_ended_after_it_stops(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [2, 3], end-streams: false}}
          - {name: out, type: test.sink, input: src, params: {tag: $TAG}}
        """,
        log,
    )
    assert run(graph).error is None
    assert sorted(log.ends("out")) == [0, 1]
    assert index_of(log, "src", "stop") < index_of(log, "out", "end_stream", 0)
    assert last_process_with(log, "out", 1) < index_of(log, "out", "end_stream", 1)


# -- lifecycle ----------------------------------------------------------------------------------


LIFECYCLE_GRAPH = """
nodes:
  - {name: src, type: test.source, params: {tag: $TAG, frames: [6, 4]}}
  - {name: a, type: test.record, input: src, params: {tag: $TAG}}
  - {name: b, type: test.record, input: src, params: {tag: $TAG}}
  - name: join
    type: test.join
    inputs: {left: a, right: b}
    params: {tag: $TAG}
  - {name: out, type: test.sink, input: join, params: {tag: $TAG}}
"""


def test_start_runs_first_and_stop_exactly_once_last_on_every_node(log):
    result = run(h.graph(LIFECYCLE_GRAPH, log))

    assert result.error is None
    assert log.hooks("src") == ["start", "generate", "stop"]
    for node in ("a", "b", "join", "out"):
        hooks = log.hooks(node)
        assert hooks[0] == "start"
        assert hooks[-1] == "stop"
        assert hooks.count("start") == hooks.count("stop") == 1
        assert set(hooks[1:-1]) == {"process", "end_stream"}
    # Each node ran in its own thread, named after it.
    threads = {e[0]: e[2] for e in log.events if e[1] == "start"}
    assert threads == {name: f"dsflow:{name}" for name in ("src", "a", "b", "join", "out")}


def test_a_node_whose_start_raises_gets_neither_process_nor_stop(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [0]}}
          - {name: bad, type: test.record, input: src, params: {tag: $TAG, fail-in: start, error: no model}}
          - {name: out, type: test.sink, input: bad, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph)  # the source is endless: the error must stop it

    assert isinstance(result.error, NodeError)
    assert str(result.error) == "node 'bad' (test.record): Boom: no model"
    assert log.hooks("bad") == ["start"]
    assert log.hooks("src") == ["start", "generate", "stop"]
    # Downstream of the failed node: started, told of the stream's end, stopped; no batch.
    assert log.hooks("out") == ["start", "end_stream", "stop"]


def test_a_source_whose_start_raises_never_generates_nor_stops(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, fail-in: start}}
          - {name: out, type: test.sink, input: src, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph)

    assert str(result.error) == "node 'src' (test.source): Boom: start failed"
    assert log.hooks("src") == ["start"]
    assert log.hooks("out") == ["start", "stop"]
    assert result.streams == {}


# -- backpressure ---------------------------------------------------------------------------------


@pytest.mark.parametrize("queue_size", [1, 2, 4])
def test_slow_sink_holds_the_source_back(log, queue_size):
    graph = h.graph(
        f"""
        queue-size: {queue_size}
        nodes:
          - {{name: src, type: test.source, params: {{tag: $TAG, frames: [40], max-ahead-of: out}}}}
          - {{name: out, type: test.sink, input: src, params: {{tag: $TAG, delay: 0.003}}}}
        """,
        log,
    )
    result = run(graph)

    assert result.error is None
    assert log.counts["out.processed"] == 40
    # In flight at most: queue-size batches in the channel, one in the sink, one being emitted.
    assert log.max_ahead <= queue_size + 2
    # ... and the source did run ahead as far as the channel let it (the sink is ~100x slower).
    assert log.max_ahead >= queue_size


# -- fan-out and joins ----------------------------------------------------------------------------


def test_fan_out_gives_each_consumer_its_own_batches_sharing_images(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [4, 4]}}
          - {name: a, type: test.record, input: src, params: {tag: $TAG, label: a, delay: 0.001}}
          - {name: b, type: test.record, input: src, params: {tag: $TAG, label: b}}
          - {name: out_a, type: test.sink, input: a, params: {tag: $TAG}}
          - {name: out_b, type: test.sink, input: b, params: {tag: $TAG}}
        """,
        log,
    )
    assert run(graph).error is None

    batches_a, batches_b = log.batches["out_a"], log.batches["out_b"]
    assert len(batches_a) == len(batches_b) == 4
    for batch_a, batch_b in zip(batches_a, batches_b, strict=True):
        assert batch_a is not batch_b
        assert len(batch_a.frames) == len(batch_b.frames) == 2
        for frame_a, frame_b in zip(batch_a.frames, batch_b.frames, strict=True):
            assert frame_a is not frame_b
            assert (frame_a.source_id, frame_a.frame_num) == (frame_b.source_id, frame_b.frame_num)
            assert frame_a.image is frame_b.image  # pixels are shared, never copied
            assert [o.label for o in frame_a.objects] == ["a"]
            assert [o.label for o in frame_b.objects] == ["b"]
            assert frame_a.meta == {"branch": "a"}
            assert frame_b.meta == {"branch": "b"}


def test_join_node_knows_the_input_port_of_each_batch(log):
    graph = h.graph(
        """
        nodes:
          - {name: left_src, type: test.source, params: {tag: $TAG, frames: [6]}}
          - {name: right_src, type: test.source, params: {tag: $TAG, frames: [4]}}
          - name: join
            type: test.join
            inputs: {left: left_src, right: right_src}
            params: {tag: $TAG}
          - {name: out, type: test.sink, input: join, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph)
    assert result.error is None

    [left_id] = stream_ids(result, "left_src")
    [right_id] = stream_ids(result, "right_src")
    ports: dict[str, set[int]] = defaultdict(set)
    for port, frames in [e[1:] for e in log.of("join") if e[0] == "process"]:
        ports[port].update(sid for sid, _ in frames)
    assert dict(ports) == {"left": {left_id}, "right": {right_id}}
    assert by_stream(log.frames("out")) == {left_id: list(range(6)), right_id: list(range(4))}
    assert sorted(log.ends("join")) == sorted(log.ends("out")) == sorted([left_id, right_id])


def test_diamond_join_sees_each_frame_on_both_ports_and_each_stream_end_once(log):
    result = run(h.graph(LIFECYCLE_GRAPH, log))
    assert result.error is None

    seen = defaultdict(list)
    for port, frames in [e[1:] for e in log.of("join") if e[0] == "process"]:
        seen[port].extend(frames)
    expected = [(sid, n) for n in range(6) for sid in (0, 1) if n < [6, 4][sid]]
    assert seen["left"] == expected
    assert seen["right"] == expected
    # The end of a stream goes on once both branches have ended it, after its last frames.
    assert sorted(log.ends("join")) == [0, 1]
    for sid in (0, 1):
        assert last_process_with(log, "join", sid) < index_of(log, "join", "end_stream", sid)


# -- errors ----------------------------------------------------------------------------------------


def test_first_error_stops_the_graph_drains_and_flushes_sinks(log, tmp_path):
    out = tmp_path / "meta" / "frames.jsonl"
    graph = h.graph(
        f"""
        nodes:
          - {{name: src, type: test.source, params: {{tag: $TAG, frames: [0, 0]}}}}
          - name: bad
            type: test.record
            input: src
            params: {{tag: $TAG, fail-in: process, fail-at: 2, error: broken frame}}
          - {{name: after, type: test.sink, input: bad, params: {{tag: $TAG}}}}
          - {{name: meta, type: sink.jsonl, input: src, params: {{path: '{out}'}}}}
        """,
        log,
    )
    result = run(graph)  # endless source: only the error can end this run

    error = result.error
    assert isinstance(error, NodeError)
    assert str(error) == "node 'bad' (test.record): Boom: broken frame"
    assert isinstance(error.__cause__, h.Boom)
    assert error.__cause__.args == ("broken frame",)
    assert not result.interrupted
    # The failing node got no batch after the one it failed on, and was still stopped.
    assert log.hooks("bad").count("process") == 3
    assert log.hooks("bad")[-1] == "stop"
    assert by_stream(log.frames("after")) == {0: [0, 1], 1: [0, 1]}
    # Sources stopped; every batch they had sent reached the JSONL sink, whose file is complete.
    assert log.hooks("src")[-1] == "stop"
    stats = {s.name: s for s in result.nodes}
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert len(records) == stats["src"].frames == stats["meta"].frames
    frames = by_stream([(r["source_id"], r["frame_num"]) for r in records])
    assert frames == {sid: list(range(len(nums))) for sid, nums in frames.items()}
    # Every stream's end still reached every node.
    assert sorted(log.ends("after")) == [0, 1]


def test_only_the_first_error_is_reported(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [0]}}
          - {name: first, type: test.record, input: src, params: {tag: $TAG, fail-in: process, error: first}}
          - {name: second, type: test.record, input: src, params: {tag: $TAG, fail-when-stopping: true, error: second}}
        """,
        log,
    )
    result = run(graph)

    assert str(result.error) == "node 'first' (test.record): Boom: first"
    assert isinstance(result.error.__cause__, h.Boom)
    # The second node did fail (after the graph was stopping) and still got its stop.
    assert log.hooks("second")[-1] == "stop"
    assert log.hooks("second").count("process") == 1


def test_an_error_in_a_sources_generate_ends_its_streams_downstream(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [0, 0], fail-in: generate, fail-at: 3}}
          - {name: out, type: test.sink, input: src, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph)

    assert str(result.error) == "node 'src' (test.source): Boom: generate failed"
    assert log.hooks("src") == ["start", "generate", "stop"]
    assert by_stream(log.frames("out")) == {0: [0, 1, 2], 1: [0, 1, 2]}
    assert sorted(log.ends("out")) == [0, 1]
    assert log.hooks("out")[-1] == "stop"


def test_an_error_in_end_stream_stops_the_node_but_not_the_stream_ends(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [2, 6]}}
          - {name: mid, type: test.record, input: src, params: {tag: $TAG, fail-in: end_stream, error: flush failed}}
          - {name: out, type: test.sink, input: mid, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph)

    assert str(result.error) == "node 'mid' (test.record): Boom: flush failed"
    hooks = log.hooks("mid")
    failed_at = hooks.index("end_stream")
    assert "process" not in hooks[failed_at:]  # a failed node gets no more batches
    assert hooks[-1] == "stop"
    assert sorted(log.ends("out")) == [0, 1]  # downstream still hears of both ends


def test_an_error_in_stop_is_reported(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [3]}}
          - {name: out, type: test.sink, input: src, params: {tag: $TAG, fail-in: stop, error: cannot close}}
        """,
        log,
    )
    result = run(graph)
    assert str(result.error) == "node 'out' (test.sink): Boom: cannot close"
    assert log.frames("out") == [(0, 0), (0, 1), (0, 2)]


# -- stopping --------------------------------------------------------------------------------------


def test_max_frames_limits_and_ends_each_stream(log):
    graph = h.graph(
        """
        nodes:
          - {name: cam, type: source.testpattern, params: {streams: 2, frames: 0, width: 16, height: 8}}
          - {name: out, type: test.sink, input: cam, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph, max_frames=7)

    assert result.error is None
    assert not result.interrupted
    assert result.stream_frames == {0: 7, 1: 7}
    assert by_stream(log.frames("out")) == {0: list(range(7)), 1: list(range(7))}
    assert sorted(log.ends("out")) == [0, 1]
    assert log.hooks("out")[-1] == "stop"


def test_max_frames_leaves_shorter_streams_alone(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [3, 10], batch-size: 3}}
          - {name: out, type: test.sink, input: src, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph, max_frames=5)
    assert result.stream_frames == {0: 3, 1: 5}
    assert by_stream(log.frames("out")) == {0: [0, 1, 2], 1: [0, 1, 2, 3, 4]}
    assert log.ends("out") == [0, 1]


def test_stream_ended_by_max_frames_is_not_ended_twice(log):
    # Stream 0 reaches the limit and is ended by the runtime; the source ends it again itself
    # later, while stream 1 (starting in round 5) still runs.
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [3, 10], offsets: [0, 5]}}
          - {name: out, type: test.sink, input: src, params: {tag: $TAG}}
        """,
        log,
    )
    result = run(graph, max_frames=3)
    assert result.stream_frames == {0: 3, 1: 3}
    assert log.ends("out") == [0, 1]


def test_request_stop_drains_the_graph(log):
    graph = h.graph(
        """
        nodes:
          - {name: src, type: test.source, params: {tag: $TAG, frames: [0]}}
          - {name: out, type: test.sink, input: src, params: {tag: $TAG, delay: 0.001}}
        """,
        log,
    )
    runtime = Runtime(graph, device="cpu")
    runtime.start()
    deadline = time.monotonic() + 10
    while log.counts["out.processed"] < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    runtime.request_stop()
    assert runtime.stopping
    result = runtime.wait()

    assert result.error is None
    produced = log.counts["src.produced"]
    assert produced >= 5
    assert log.frames("out") == [(0, n) for n in range(produced)]  # nothing in flight was lost
    assert log.ends("out") == [0]
    assert log.hooks("src")[-1] == log.hooks("out")[-1] == "stop"


def test_abort_unblocks_a_graph_stuck_on_a_full_channel(log):
    graph = h.graph(
        """
        queue-size: 1
        nodes:
          - {name: stuck_src, type: test.source, params: {tag: $TAG, frames: [0]}}
          - {name: stuck_out, type: test.sink, input: stuck_src, params: {tag: $TAG, block: true}}
        """,
        log,
    )
    runtime = Runtime(graph, device="cpu")
    runtime.start()
    # Wait until the source is blocked: its count stops growing while the sink holds batch 1.
    deadline = time.monotonic() + 10
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        produced = log.counts["stuck_src.produced"]
        if produced != last:
            last, since = produced, time.monotonic()
        elif produced >= 2 and time.monotonic() - since > 0.3:
            break
        time.sleep(0.01)
    assert 2 <= last <= 3  # one in the sink, at most one queued, one waiting for room
    [source_thread] = [t for t in threading.enumerate() if t.name == "dsflow:stuck_src"]
    assert source_thread.is_alive()

    runtime.abort()
    source_thread.join(5)
    assert not source_thread.is_alive()  # the blocked put was woken up and the thread left
    assert runtime.stopping
    assert log.counts["stuck_src.produced"] == last

    log.release.set()  # let the sink return; it then sees the abort instead of the next batch
    waiter = threading.Thread(target=runtime.wait, daemon=True)
    waiter.start()
    waiter.join(10)
    assert not waiter.is_alive()
    assert log.counts["stuck_src.produced"] == last


def test_ctrl_c_drains_the_graph_and_exits_with_2(tmp_path: Path, write_graph):
    out = tmp_path / "frames.jsonl"
    path = write_graph(
        f"""
        device: cpu
        nodes:
          - name: cam
            type: source.testpattern
            params: {{streams: 2, frames: 0, realtime: true, fps: 100, width: 32, height: 24}}
          - name: meta
            type: sink.jsonl
            input: cam
            params: {{path: '{out}'}}
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "dsflow", "run", str(path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # the sink opens its file once the graph runs
        assert proc.poll() is None, proc.communicate()
        assert out.exists()
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    assert proc.returncode == 2, stderr
    assert "interrupted" in stderr
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n")  # not cut in the middle of a line
    records = [json.loads(line) for line in text.splitlines()]
    frames = by_stream([(r["source_id"], r["frame_num"]) for r in records])
    assert set(frames) == {0, 1}
    for nums in frames.values():
        assert len(nums) >= 10
        assert nums == list(range(len(nums)))  # drained: nothing produced was lost on the way


def test_node_stats_count_the_frames_a_node_received_even_if_it_drops_some(tmp_path, write_graph):
    (tmp_path / "steps.py").write_text("def keep_even(batch):\n    batch.frames[:] = batch.frames[::2]\n")
    graph = load_graph(
        write_graph(
            f"""
            nodes:
              - {{name: src, type: source.testpattern, params: {{frames: 10, width: 8, height: 8, batch-size: 2}}}}
              - {{name: thin, type: python, input: src, params: {{function: "{tmp_path / 'steps.py'}:keep_even"}}}}
              - {{name: out, type: sink.null, input: thin}}
            """
        )
    )
    result = run_graph(graph, device="cpu")
    stats = {s.name: s for s in result.nodes}
    assert result.error is None
    assert (stats["thin"].frames, stats["out"].frames) == (10, 5)
