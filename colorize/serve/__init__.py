"""The local web page of ``colorize serve``: a Flask app (:mod:`colorize.serve.app`) and its static page."""
