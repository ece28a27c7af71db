// Small behaviours every portal page may use, bound from data attributes so
// that no page needs inline script (the Content-Security-Policy forbids it).
//   <select data-autosubmit>        submits its form when changed
//   <form data-confirm="...">       asks before submitting
//   <button data-menu-toggle>       opens and closes the main menu on narrow screens
//   <button data-copy="ID">         copies the text of the element with that id
//
// Pages' fetch() calls send the CSRF token from the csrftoken cookie (which
// base.html makes sure is set) as X-CSRFToken; portalCsrfToken() reads it, with
// the <meta name="csrf-token"> of base.html as a fallback.
window.portalCsrfToken = () =>
  decodeURIComponent(document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? "") ||
  document.querySelector('meta[name="csrf-token"]')?.content ||
  "";

document.addEventListener("change", (event) => {
  const field = event.target.closest("[data-autosubmit]");
  if (field && field.form) field.form.requestSubmit();
});

document.addEventListener("submit", (event) => {
  const question = event.target.dataset?.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});

// The main menu: a disclosure button, shown by the CSS on narrow screens only.
const menuButton = document.querySelector("[data-menu-toggle]");
const menu = menuButton && document.getElementById(menuButton.getAttribute("aria-controls"));

function setMenu(open, { focusButton = false } = {}) {
  if (!menu) return;
  menuButton.setAttribute("aria-expanded", String(open));
  menu.toggleAttribute("data-open", open);
  if (!open && focusButton) menuButton.focus();
}

if (menu) {
  menuButton.addEventListener("click", () => {
    const open = menuButton.getAttribute("aria-expanded") !== "true";
    setMenu(open);
    if (open) menu.querySelector("a, button")?.focus();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menuButton.getAttribute("aria-expanded") === "true") {
      setMenu(false, { focusButton: true });
    }
  });
  document.addEventListener("click", (event) => {
    if (menuButton.getAttribute("aria-expanded") !== "true") return;
    if (!menu.contains(event.target) && !menuButton.contains(event.target)) setMenu(false);
  });
}

// Copy buttons: the Clipboard API where the page may use it, else a selection
// and the older copy command.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.textContent.trim();
  let copied = false;
  try {
    await navigator.clipboard.writeText(text);
    copied = true;
  } catch {
    const selection = window.getSelection();
    selection.selectAllChildren(source);
    copied = document.execCommand("copy");
  }
  const label = button.dataset.copyLabel || button.textContent;
  button.dataset.copyLabel = label;
  button.textContent = copied ? "Copied" : "Press Ctrl+C to copy";
  setTimeout(() => { button.textContent = label; }, 2500);
});

// A table wider than a phone scrolls in its own box (portal.css): such a box
// takes keyboard focus, so that it can be scrolled without a pointer.
function focusableScrollers() {
  for (const table of document.querySelectorAll("main table")) {
    if (table.closest(".table-scroll")) continue;
    const scrolls = table.scrollWidth > table.clientWidth + 1;
    if (scrolls && !table.hasAttribute("tabindex")) table.setAttribute("tabindex", "0");
    else if (!scrolls && table.getAttribute("tabindex") === "0") table.removeAttribute("tabindex");
  }
}
focusableScrollers();
window.addEventListener("resize", focusableScrollers);
