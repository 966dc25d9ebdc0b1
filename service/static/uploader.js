/* uploader.js: add and update transcripts from the page (POST /v1/transcripts), a dialog opened
 * from the library. Files are dropped on it or chosen with the file picker; first the service says
 * what would happen to each (?preview=true: new, updated, already there, unchanged, refused and
 * why) and nothing is written; then "Add" sends the files that would be stored, shows the progress
 * while the service stores and indexes them, and the result. The API's rules apply as they are:
 * a file already in the folder is replaced only when "Replace" is ticked; the key is asked for
 * when the service requires one (and kept only in this page's memory).
 */

import { h, plural } from "./dom.js";

const $ = (id) => document.getElementById(id);
const els = {
  dialog: $("uploader"),
  open: $("upload-open"),
  close: $("uploader-close"),
  drop: $("upload-drop"),
  files: $("upload-files"),
  replace: $("upload-replace"),
  keyRow: $("upload-key-row"),
  key: $("upload-key"),
  status: $("upload-status"),
  body: $("upload-body"),
  send: $("upload-send"),
};

let hooks = { added: () => {}, announce: () => {} };
let chosen = []; // the File objects picked or dropped
let preview = null; // the service's preview of `chosen`, as sent
let busy = false;
let asked = 0;

const SAYS = {
  new: "New transcript",
  updated: "Updates the transcript",
  exists: "Already in the folder",
  unchanged: "Unchanged",
  refused: "Refused",
  stored: "Added",
  replaced: "Updated",
  skipped: "Stored, not indexed",
};

function detail(f) {
  if (f.status === "refused" || f.status === "skipped") return f.reason || "";
  if (f.status === "exists") return `The folder already has ${f.replaces.join(", ")}. Tick “Replace files already in the folder” to update it.`;
  if (f.status === "unchanged") return "The folder already has this file as it is; it is not sent again.";
  const parsed = f.turns !== undefined ? `${f.title ? `“${f.title}” · ` : ""}${plural(f.turns, "turn", "turns")} · ${plural(f.speakers, "speaker", "speakers")}` : "";
  const replaces = f.replaces && f.replaces.length ? `Replaces ${f.replaces.join(", ")}.` : "";
  return [parsed, replaces].filter(Boolean).join(" ");
}

function table(files, caption) {
  return h("table", { class: "upload-files" },
    h("caption", null, caption),
    h("thead", null, h("tr", null, h("th", { scope: "col" }, "File"), h("th", { scope: "col" }, "What happens"),
      h("th", { scope: "col" }, "Details"))),
    h("tbody", null, ...files.map((f) => h("tr", { "data-status": f.status },
      h("th", { scope: "row" }, f.file), h("td", null, h("span", { class: `upload-state is-${f.status}` }, SAYS[f.status] || f.status)),
      h("td", null, detail(f))))));
}

const sendable = () => (preview || []).filter((f) => f.status === "new" || f.status === "updated");

function headers() {
  const key = els.key.value.trim();
  return key ? { "X-API-Key": key } : {};
}

/** The service's refusal in plain words: the key is asked for when it is missing or wrong. */
async function refusal(response) {
  let text = "";
  try {
    const body = await response.json();
    text = typeof body.detail === "string" ? body.detail : "";
  } catch { /* not JSON */ }
  if (response.status === 401) {
    els.keyRow.hidden = false;
    return els.key.value.trim()
      ? "That API key was not accepted. Check it and try again."
      : "This service needs its API key to add transcripts. Enter it above, then try again.";
  }
  if (response.status === 403) return `Adding transcripts is not allowed from here: ${text}`;
  if (response.status === 409) return `The service could not add them: ${text}`;
  if (response.status === 429) return "Too many attempts. Wait a minute, then try again.";
  return `The files could not be added (error ${response.status}). ${text}`.trim();
}

function form(files) {
  const data = new FormData();
  for (const f of files) data.append("files", f, f.name);
  return data;
}

async function check() {
  const token = ++asked;
  preview = null;
  els.send.disabled = true;
  if (!chosen.length) {
    els.body.replaceChildren();
    els.status.textContent = "Choose or drop transcript files (.txt, .md, .docx, .srt or .vtt).";
    return;
  }
  els.status.textContent = `Checking ${plural(chosen.length, "file", "files")}… nothing is written yet.`;
  els.body.dataset.state = "checking";
  let response;
  try {
    response = await fetch(`/v1/transcripts?preview=true&replace=${els.replace.checked}`,
      { method: "POST", headers: headers(), body: form(chosen) });
  } catch {
    if (token === asked) els.status.textContent = "Can’t reach the service. Check that it is running, then try again.";
    return;
  }
  if (token !== asked) return;
  if (!response.ok) {
    els.body.dataset.state = "refused";
    els.body.replaceChildren();
    els.status.textContent = await refusal(response);
    return;
  }
  preview = (await response.json()).files;
  const go = sendable();
  els.body.replaceChildren(table(preview, "What adding these files would do. Nothing is written until you choose Add."));
  els.body.dataset.state = "preview";
  els.send.disabled = go.length === 0;
  els.send.textContent = go.length ? `Add ${plural(go.length, "file", "files")}` : "Add";
  const held = preview.length - go.length;
  els.status.textContent = go.length
    ? `${plural(go.length, "file", "files")} can be added${held ? `; ${plural(held, "other is", "others are")} left out (see why below)` : ""}.`
    : "None of these files would be added: see why below.";
}

async function send() {
  const go = sendable();
  if (!go.length || busy) return;
  const files = go.map((p) => chosen.find((f) => f.name === p.file)).filter(Boolean);
  busy = true;
  els.send.disabled = true;
  els.body.dataset.state = "sending";
  els.status.textContent = `Adding ${plural(files.length, "file", "files")} and indexing them… this can take a minute.`;
  els.body.prepend(h("progress", { class: "upload-progress", "aria-label": "Adding the files" }));
  try {
    let response;
    try {
      response = await fetch(`/v1/transcripts?replace=${els.replace.checked}`, { method: "POST", headers: headers(), body: form(files) });
    } catch {
      els.status.textContent = "Can’t reach the service. Check that it is running, then try again.";
      els.body.dataset.state = "preview";
      return;
    }
    if (!response.ok) {
      els.status.textContent = await refusal(response);
      els.body.dataset.state = "preview";
      return;
    }
    const result = await response.json();
    els.body.replaceChildren(table(result.files, "What was done."));
    els.body.dataset.state = "done";
    const added = result.files.filter((f) => f.status === "stored" || f.status === "replaced").length;
    els.status.textContent = `${plural(added, "transcript", "transcripts")} added or updated: ask about ${added === 1 ? "it" : "them"} now.`;
    hooks.announce(els.status.textContent);
    chosen = [];
    preview = null;
    els.files.value = "";
    hooks.added();
  } finally {
    busy = false;
    const bar = els.body.querySelector(".upload-progress");
    if (bar) bar.remove();
    els.send.disabled = !sendable().length;
  }
}

function choose(list) {
  chosen = [...list];
  check();
}

/** Wire the uploader (once, at start); `given`: {added() after transcripts were added, announce}. */
export function setUpUploader(given) {
  hooks = { ...hooks, ...given };
  els.open.addEventListener("click", () => {
    if (!els.dialog.open) els.dialog.showModal();
    if (!chosen.length) check();
    els.files.focus();
  });
  els.close.addEventListener("click", () => els.dialog.close());
  els.dialog.addEventListener("close", () => { if (els.open.isConnected) els.open.focus(); });
  els.files.addEventListener("change", () => choose(els.files.files));
  els.replace.addEventListener("change", () => { if (chosen.length) check(); });
  els.key.addEventListener("change", () => { if (chosen.length && !preview) check(); });
  els.send.addEventListener("click", send);
  for (const type of ["dragenter", "dragover"]) {
    els.drop.addEventListener(type, (ev) => { ev.preventDefault(); els.drop.classList.add("is-over"); });
  }
  els.drop.addEventListener("dragleave", () => els.drop.classList.remove("is-over"));
  els.drop.addEventListener("drop", (ev) => {
    ev.preventDefault();
    els.drop.classList.remove("is-over");
    if (ev.dataTransfer && ev.dataTransfer.files.length) choose(ev.dataTransfer.files);
  });
}
