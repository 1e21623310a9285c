"""What is searched: the library's snapshot (papers, vectors, the BM25 index), kept in
step with the store, and the embedding model that encodes questions and text."""
