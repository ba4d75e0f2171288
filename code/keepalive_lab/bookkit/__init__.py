"""What the book's pages use: glue and table helpers, figures, live probes, page prose.

The top floor with the command line: pages import from here and from the
floors below; nothing below imports from here.
"""
