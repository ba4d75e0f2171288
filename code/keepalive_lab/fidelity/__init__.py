"""The differential harness: one scenario matrix against Go's ``net/http`` and against the lab server.

Both servers run as processes (:mod:`.process`) started with the same command
line; the matrix (:mod:`.matrix`) drives them with raw sockets and records
wire transcripts (:mod:`.transcript`); :mod:`.compare` and :mod:`.report`
say where they differ.
"""
