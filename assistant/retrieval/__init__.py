"""From a question to ranked papers: dense and lexical search fused per paper, the list
decision (which papers answer, how sure), and the LLM's judgments of the candidates."""
