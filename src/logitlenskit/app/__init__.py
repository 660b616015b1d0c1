"""Entry points over everything below: the command line, notebook display, HTML export."""
