"""Offline evaluation of paperlens: retrieval, citations, refusals and latency on a
hand-judged question set, against a plain llama-index baseline (`paperlens eval`)."""
