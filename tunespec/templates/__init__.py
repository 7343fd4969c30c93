"""Stage 4: the targets (Jinja2 templates, one folder per backend). Built by `tunespec build`."""
