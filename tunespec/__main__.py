import sys

try:
    from tunespec.cli import program
except KeyboardInterrupt:  # Ctrl-C while Python was still loading tunespec
    sys.stderr.write("tunespec: interrupted\n")
    raise SystemExit(130) from None

raise SystemExit(program())
