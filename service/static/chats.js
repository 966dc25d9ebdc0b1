/* chats.js: the list of saved conversations (#chats), newest first: open one, rename it in place,
 * delete it (with Undo in a toast), search them by title and text. The conversations themselves
 * are store.js's; this file only shows them.
 */

import { ICONS, h, icon } from "./dom.js";
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const els = {
  list: $("chat-list"), search: $("chat-search"), empty: $("chat-list-empty"),
  toast: $("toast"), toastText: $("toast-text"), toastAction: $("toast-action"),
};
const TOAST_MS = 10000;
let hooks = { open: () => {}, removedCurrent: () => {}, announce: () => {} };
let renaming = null; // the id being renamed
let toastTimer = 0;

const fold = (text) => String(text || "").normalize("NFKD").replace(/\p{M}/gu, "").toLocaleLowerCase();

function when(ms) {
  const d = new Date(ms);
  const today = new Date().toDateString() === d.toDateString();
  return today ? d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

/** A message with one action (Undo), replaced by the next one, gone after a while. */
export function showToast(text, action, onAction) {
  clearTimeout(toastTimer);
  els.toastText.textContent = text;
  els.toastAction.textContent = action;
  els.toastAction.onclick = () => {
    hideToast();
    onAction();
  };
  els.toast.hidden = false;
  toastTimer = setTimeout(hideToast, TOAST_MS);
}

function hideToast() {
  clearTimeout(toastTimer);
  els.toast.hidden = true;
}

function remove(c) {
  const removed = store.remove(c.id);
  const wasCurrent = c.id === store.current().id;
  if (wasCurrent) hooks.removedCurrent();
  renderChats();
  if (!removed) return;
  hooks.announce(`Deleted “${c.title}”. Undo is in the message at the bottom of the page.`);
  showToast(`Deleted “${c.title}”.`, "Undo", () => {
    store.restore(removed);
    if (wasCurrent) hooks.open(c.id);
    renderChats();
    hooks.announce(`Restored “${c.title}”.`);
  });
  els.search.focus();
}

function renameField(c) {
  const input = h("input", { type: "text", class: "chat-rename-input", "aria-label": `New name for “${c.title}”`, maxlength: "200" });
  input.value = c.title;
  let done = false;
  const finish = (keep) => {
    if (done) return;
    done = true;
    renaming = null;
    if (keep && input.value.trim() && input.value.trim() !== c.title) {
      store.rename(c.id, input.value);
      hooks.announce(`Renamed to “${input.value.trim()}”.`);
    }
    renderChats();
    const again = els.list.querySelector(`[data-chat="${CSS.escape(c.id)}"] .chat-rename`);
    if (again) again.focus();
  };
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); finish(true); }
    if (ev.key === "Escape") { ev.preventDefault(); ev.stopPropagation(); finish(false); }
  });
  input.addEventListener("blur", () => finish(true));
  return input;
}

function item(c, currentId) {
  const li = h("li", { class: "chat-item", "data-chat": c.id, "aria-current": c.id === currentId ? "true" : null });
  if (renaming === c.id) {
    li.append(renameField(c));
    return li;
  }
  li.append(
    h("button", { type: "button", class: "chat-open", title: c.title, onclick: () => hooks.open(c.id) },
      h("span", { class: "chat-title" }, c.title), h("span", { class: "chat-when" }, when(c.updated))),
    h("button", { type: "button", class: "icon-btn chat-rename", "aria-label": `Rename “${c.title}”`,
      onclick: () => { renaming = c.id; renderChats(); els.list.querySelector(".chat-rename-input").select(); } },
    icon(ICONS.edit)),
    h("button", { type: "button", class: "icon-btn chat-delete", "aria-label": `Delete “${c.title}”`, onclick: () => remove(c) },
      icon(ICONS.trash)),
  );
  return li;
}

/** Paint the list for the search box's text. */
export function renderChats() {
  const q = fold(els.search.value.trim());
  const all = store.list();
  const shown = q ? all.filter((c) => fold(c.text).includes(q)) : all;
  els.list.replaceChildren(...shown.map((c) => item(c, store.current().id)));
  els.empty.hidden = shown.length > 0;
  els.empty.textContent = all.length ? `No chat matches “${els.search.value.trim()}”.`
    : "No saved chats yet. Your questions and answers are kept in this browser.";
}

/** Wire the search box (once, at start); `given`: {open(id), removedCurrent(), announce(text)}. */
export function setUpChats(given) {
  hooks = { ...hooks, ...given };
  els.search.addEventListener("input", renderChats);
  renderChats();
}
