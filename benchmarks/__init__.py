"""The benchmark and reproduction commands (``python -m benchmarks.<name>``).
"""
import warnings

# torch warns on every CSR tensor PyG builds (the adjacency, sparse
# features) that CSR support is "in beta" and that its invariant checks are
# off: nothing a user of these commands can act on (PyG builds them from
# valid graphs; the results are checked against the dense paths).
for _message in ("Sparse CSR tensor support is in beta",
                 "Sparse invariant checks are implicitly disabled"):
    warnings.filterwarnings("ignore", message=_message, category=UserWarning)
