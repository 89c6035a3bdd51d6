"""Built-in node types, installed as ``dsflow.nodes``.

Each module is a plugin registered exactly like a third-party one (see
``dsflow.plugins.manager.BUILTIN_PLUGINS``):

- ``source.testpattern`` (:mod:`.sources`): synthetic moving colour bars, any number of streams.
- ``source.video`` (:mod:`.video`): video files decoded with PyAV, one stream per file.
- ``source.images`` (:mod:`.images`): image files from a file, a directory or a glob.
- ``python`` (:mod:`.python_node`): calls a user function on every batch.
- ``sink.jsonl`` and ``sink.null`` (:mod:`.sinks`): write metadata as JSON Lines, or discard.
"""
