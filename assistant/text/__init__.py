"""Text as the library reads it: terms (the tokeniser), sentences, and the sentences
addressed to an AI reader that are never used as evidence (`injection`)."""
