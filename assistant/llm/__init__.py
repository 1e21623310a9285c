"""An OpenAI-compatible LLM: the client (retries, deadlines, streaming) and the prompt
files."""
