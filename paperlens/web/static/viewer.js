// The paperlens PDF viewer: a library PDF at the cited page, the quoted passage highlighted.
//
// The address's fragment says what to show (paperlens/web/viewer.py writes it):
//   #paper=<paper id>&page=<cited page>&q=<quoted text>&name=<the source's name>
// The PDF comes from ../pdf/<paper id> (only papers of the library), pdf.js from ./pdfjs/.
// The quote is looked for on the cited page first, then on the pages around it; where it
// is found, the text-layer spans that hold it are wrapped in highlight spans.
import * as pdfjs from "./pdfjs/build/pdf.min.mjs";

const base = new URL(".", import.meta.url);
pdfjs.GlobalWorkerOptions.workerSrc = new URL("pdfjs/build/pdf.worker.min.mjs", base).href;

const args = new URLSearchParams(location.hash.slice(1));
const paperId = args.get("paper") || "";
const cited = Math.max(1, parseInt(args.get("page") || "1", 10) || 1);
const quote = args.get("q") || "";
const sourceName = args.get("name") || "";
const MIN_QUOTE = 8; // folded characters: shorter quotes would match anywhere
const ANCHOR = 40; // folded characters at each end of a quote the page does not hold whole

const $ = (id) => document.getElementById(id);
const body = document.body;
let doc = null;
let shown = 0;
let foundOn = 0; // the page holding the quote (0: not found)
let busy = false;

function say(text, state) {
  $("pl-pdf-status").textContent = text;
  if (state) body.dataset.state = state;
}

// Letters and digits only, case-folded, ligatures unfolded (NFKC). The library's text has
// hyphenated line ends rejoined and line breaks turned into spaces; the text layer keeps
// both, so only letters and digits are compared.
function fold(ch) {
  return ch.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{N}]/gu, "");
}

// A page's items folded into one string, with, for each folded character, the item and
// the span of that item's text it came from.
function foldItems(strs) {
  let text = "";
  const where = [];
  strs.forEach((str, item) => {
    let offset = 0;
    for (const ch of str) {
      const folded = fold(ch);
      for (let k = 0; k < folded.length; k++) where.push([item, offset, offset + ch.length]);
      text += folded;
      offset += ch.length;
    }
  });
  return { text, where };
}

const needle = [...quote].map(fold).join("");

// The folded range [start, end) of the quote in a page's folded text, or null. A quote that
// runs over onto the next page, or whose middle the two extractions read differently, is
// found by its first and last words.
function locate(text) {
  if (needle.length < MIN_QUOTE) return null;
  const at = text.indexOf(needle);
  if (at >= 0) return [at, at + needle.length];
  const head = needle.slice(0, ANCHOR);
  const tail = needle.slice(-ANCHOR);
  const i = text.indexOf(head);
  const j = text.indexOf(tail, i < 0 ? 0 : i);
  if (i >= 0 && j >= 0 && j + tail.length - i <= needle.length * 1.5) return [i, j + tail.length];
  if (i >= 0) return [i, Math.min(text.length, i + needle.length)];
  if (j >= 0) return [Math.max(0, j + tail.length - needle.length), j + tail.length];
  return null;
}

async function pageText(n) {
  const page = await doc.getPage(n);
  const content = await page.getTextContent();
  return content.items.map((item) => item.str || "");
}

// The cited page first, then outward from it: a quote's page is the one its passage
// starts on, which a long passage may leave.
async function findQuote() {
  const order = [cited];
  for (let d = 1; order.length < doc.numPages; d++) {
    if (cited + d <= doc.numPages) order.push(cited + d);
    if (cited - d >= 1) order.push(cited - d);
  }
  for (const n of order) {
    if (locate(foldItems(await pageText(n)).text)) return n;
  }
  return 0;
}

// Wrap the quoted characters of each text-layer span in a highlight span (pdf.js's own
// classes, styled by its text-layer CSS); the highlight spans, in reading order.
function highlight(layer) {
  const { text, where } = foldItems(layer.textContentItemsStr);
  const range = locate(text);
  if (!range) return [];
  const parts = new Map(); // item -> [start, end) in its text
  for (let k = range[0]; k < range[1]; k++) {
    const [item, start, end] = where[k];
    const part = parts.get(item);
    parts.set(item, part ? [Math.min(part[0], start), Math.max(part[1], end)] : [start, end]);
  }
  // Only letters and digits were matched: the punctuation between them is the quote's
  // too (an item the quote runs on from starts and ends inside it), and so is what
  // closes its last word ("phone." with its period).
  const items = [...parts.keys()].sort((a, b) => a - b);
  items.forEach((item, i) => {
    const str = layer.textContentItemsStr[item];
    const part = parts.get(item);
    if (i > 0) part[0] = str.length - str.trimStart().length;
    if (i < items.length - 1) part[1] = str.trimEnd().length;
    else part[1] += (str.slice(part[1]).match(/^[^\s\p{L}\p{N}]*/u) || [""])[0].length;
  });
  const marks = [];
  for (const [item, [start, end]] of [...parts].sort((a, b) => a[0] - b[0])) {
    const div = layer.textDivs[item];
    const str = layer.textContentItemsStr[item];
    const mark = document.createElement("span");
    mark.className = "highlight appended selected";
    mark.textContent = str.slice(start, end);
    div.replaceChildren(str.slice(0, start), mark, str.slice(end));
    marks.push(mark);
  }
  return marks;
}

async function show(n) {
  busy = true;
  $("pl-pdf-prev").disabled = $("pl-pdf-next").disabled = true;
  body.dataset.state = "rendering";
  const page = await doc.getPage(n);
  const width = $("pl-pdf-main").clientWidth - 32;
  const scale = Math.min(2.5, Math.max(0.75, width / page.getViewport({ scale: 1 }).width));
  const viewport = page.getViewport({ scale });
  const ratio = window.devicePixelRatio || 1;
  const sheet = $("pl-pdf-sheet");
  sheet.style.setProperty("--scale-factor", String(scale));
  sheet.style.width = `${Math.floor(viewport.width)}px`;
  sheet.style.height = `${Math.floor(viewport.height)}px`;
  const canvas = sheet.querySelector("canvas");
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  const layerDiv = sheet.querySelector(".textLayer");
  layerDiv.replaceChildren();
  await page.render({
    canvas,
    viewport,
    transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
  }).promise;
  const layer = new pdfjs.TextLayer({
    textContentSource: page.streamTextContent(),
    container: layerDiv,
    viewport,
  });
  await layer.render();
  const marks = n === foundOn ? highlight(layer) : [];
  shown = n;
  $("pl-pdf-page").textContent = String(n);
  body.dataset.page = String(n);
  body.dataset.marked = String(marks.length);
  if (marks.length) marks[0].scrollIntoView({ block: "center" });
  else window.scrollTo(0, 0);
  $("pl-pdf-prev").disabled = n <= 1;
  $("pl-pdf-next").disabled = n >= doc.numPages;
  busy = false;
  body.dataset.state = "ready";
}

function go(step) {
  const n = shown + step;
  if (!busy && doc && n >= 1 && n <= doc.numPages) show(n).catch(failed);
}

function failed(error) {
  const status = error && error.status;
  const text =
    status === 404
      ? "This paper's PDF is not kept in the library: add the PDF in the Library tab to open it here."
      : status === 401
        ? "Log in to paperlens first, then open the citation again."
        : `The PDF could not be shown (${(error && error.message) || error}).`;
  say(text, "error");
}

async function main() {
  if (!paperId) throw new Error("no paper given");
  const url = new URL(`../pdf/${encodeURIComponent(paperId)}`, base).href;
  $("pl-pdf-file").href = url;
  $("pl-pdf-name").textContent = sourceName;
  if (sourceName) document.title = `${sourceName} · paperlens`;
  doc = await pdfjs.getDocument({
    url,
    cMapUrl: new URL("pdfjs/cmaps/", base).href,
    cMapPacked: true,
    standardFontDataUrl: new URL("pdfjs/standard_fonts/", base).href,
    wasmUrl: new URL("pdfjs/wasm/", base).href,
    iccUrl: new URL("pdfjs/iccs/", base).href,
    isEvalSupported: false,
    enableXfa: false,
  }).promise;
  $("pl-pdf-pages").textContent = String(doc.numPages);
  foundOn = quote ? await findQuote() : 0;
  const first = foundOn || Math.min(cited, doc.numPages);
  body.dataset.found = String(foundOn);
  await show(first);
  if (!quote) say("");
  else if (!foundOn) say(`The quoted passage was not found in this PDF's text; showing page ${first}.`);
  else if (foundOn === cited) say(`The quoted passage is highlighted on page ${foundOn}.`);
  else say(`The quoted passage is highlighted on page ${foundOn} (cited as page ${cited}).`);
}

// Another citation opened in this tab changes only the fragment: start over.
window.addEventListener("hashchange", () => location.reload());
$("pl-pdf-prev").addEventListener("click", () => go(-1));
$("pl-pdf-next").addEventListener("click", () => go(1));
document.addEventListener("keydown", (event) => {
  if (event.key === "ArrowLeft") go(-1);
  else if (event.key === "ArrowRight") go(1);
});
main().catch(failed);
