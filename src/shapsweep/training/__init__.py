"""Training attribution: traces of recorded training (one atomic folder per optimizer step) and what reads them."""
