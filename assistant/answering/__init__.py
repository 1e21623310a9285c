"""From ranked papers to an answer: the question read against the conversation, the
plan (`plan`: retrieve, judge, choose, find evidence, draft), the extractive answers, the
check of every cited sentence, and the answer streamed (`respond`)."""
