"""`tunespec import`: an Axolotl, LLaMA-Factory, fms-hf-tuning or torchtune config as a `.tune` experiment.

One module per backend reads its keys into a draft experiment (`draft.py`); what no module takes is reported
as not imported, with its place (`reader.py`, `source.py`); `writer.py` prints the experiment in `fmt`'s
layout. This package reads the compiler's declarations (fields, catalog) and never the other way round: lint
does not import it, nor PyYAML through it.
"""
