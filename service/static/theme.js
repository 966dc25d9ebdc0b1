/* theme.js: the dark / light toggle (#theme). The page follows the system's colour scheme until the
 * toggle is pressed; the choice is kept in localStorage and set as <html data-theme>, which
 * style.css reads.
 */

const KEY = "transcript-chat.theme";
const system = matchMedia("(prefers-color-scheme: dark)");

function stored() {
  try {
    const v = localStorage.getItem(KEY);
    return v === "dark" || v === "light" ? v : null;
  } catch {
    return null;
  }
}

let choice = stored(); // null: follow the system
const isDark = () => (choice || (system.matches ? "dark" : "light")) === "dark";

function apply(button) {
  if (choice) document.documentElement.dataset.theme = choice;
  else delete document.documentElement.dataset.theme;
  button.setAttribute("aria-pressed", isDark() ? "true" : "false");
}

/** Wire the toggle; `announce(text)` tells screen readers what changed. */
export function setUpTheme(button, announce) {
  apply(button);
  button.addEventListener("click", () => {
    choice = isDark() ? "light" : "dark";
    try { localStorage.setItem(KEY, choice); } catch { /* for this page only */ }
    apply(button);
    announce(choice === "dark" ? "Dark theme on." : "Light theme on.");
  });
  system.addEventListener("change", () => apply(button));
  window.addEventListener("storage", (ev) => {
    if (ev.key !== KEY) return;
    choice = stored();
    apply(button);
  });
}
