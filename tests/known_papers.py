"""Papers of the bundled library that several test modules name, as the eval set labels them."""

from __future__ import annotations

from ingest import paper_id

# q001's relevant papers: every speculative-decoding paper of the bundled library.
SPECULATIVE = {
    paper_id(t)
    for t in (
        "SpecDec++: Boosting Speculative Decoding via Adaptive Candidate Lengths",
        "SpecTr: Fast Speculative Decoding via Optimal Transport",
        "OPT-Tree: Speculative Decoding with Adaptive Draft Tree Structure",
        "Recursive Speculative Decoding: Accelerating LLM Inference via Sampling Without "
        "Replacement",
        "S2D: Sorted Speculative Decoding For More Efficient Deployment of Nested Large Language "
        "Models",
        "Multi-Draft Speculative Sampling: Canonical Architectures and Theoretical Limits",
    )
}
