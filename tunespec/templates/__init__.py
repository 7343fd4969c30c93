"""Stage 4: the targets. One folder per backend holds its Jinja2 template(s) and `target.toml`, the
declaration of what it writes and can express (`targets.py` reads it, without Jinja2); `render.py` renders
and verifies the files, `build.py` writes them."""
