"""The hand-made classes of the hostile corpus, by theme; :mod:`.corpus` lists them, in order.

:mod:`.parts` (the seed and the helpers every class uses), :mod:`.request`
(the request line and its target), :mod:`.headers` (header names, values,
folding, Connection, Host, Expect), :mod:`.framing` (Content-Length,
Transfer-Encoding, chunks, trailers) and :mod:`.behaviour` (pipelining,
half-closes, resets, slow senders, big heads, random bytes). Each class is a
function that returns its cases in a fixed order; none depends on another.
"""
