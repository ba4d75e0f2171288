"""The differential harness: one scenario matrix against Go's ``net/http`` and against the lab server.

Both servers run as processes (:mod:`.process`) started with the same command
line; the matrix (:mod:`.matrix`) drives them with raw sockets and records
wire transcripts (:mod:`.transcript`); :mod:`.compare` and :mod:`.report`
say where they differ. :mod:`.hostile` does the same for a corpus of hostile
input, case by case, and :mod:`.routes` for request targets of every shape
(``ServeMux``'s cleaning and redirects).
"""
