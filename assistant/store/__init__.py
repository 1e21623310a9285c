"""Where the library lives: the Chroma store (embedded or a `chroma run` server), its
records, what identifies stored content, and the copies of the library's PDFs."""
