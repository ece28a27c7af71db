// Keeps the files on this page current from the tenant's event stream
// (events.js dispatches "facet:event"): status badges and face counts at once,
// whole library tiles (thumbnail, faces, play icon) redrawn by the server when
// a file is queued, done or failed, new uploads added to the first page, the
// dashboard's counts refreshed. Also the library's multi-select.
const LABELS = { queued: "Queued", processing: "Processing", done: "Done", failed: "Failed" };
const SETTLED = new Set(["queued", "done", "failed"]);
const grid = document.querySelector("[data-media-grid]");
const counts = document.querySelectorAll("[data-count]");

function later(wait, action) {
  let timer = null;
  return () => { clearTimeout(timer); timer = setTimeout(action, wait); };
}

async function redrawTile(mediaId, { insert = false } = {}) {
  const response = await fetch(`/library/${mediaId}/tile/`, { credentials: "same-origin" });
  if (!response.ok) return;
  const holder = document.createElement("template");
  holder.innerHTML = (await response.text()).trim();
  const tile = holder.content.firstElementChild;
  const old = grid.querySelector(`[data-tile][data-media-id="${mediaId}"]`);
  if (old) {
    tile.querySelector("[data-select]")?.toggleAttribute("checked", Boolean(old.querySelector("[data-select]")?.checked));
    old.replaceWith(tile);
  } else if (insert) {
    grid.prepend(tile);
    document.querySelector("[data-empty-library]")?.remove();
  }
  updateSelection();
}

const refreshCounts = later(800, async () => {
  const response = await fetch("/api/v1/stats/", { credentials: "same-origin" });
  if (!response.ok) return;
  const stats = await response.json();
  for (const count of counts) {
    const value = stats[count.dataset.count];
    if (value !== undefined) count.querySelector(".value").textContent = value;
  }
});

document.addEventListener("facet:event", ({ detail: event }) => {
  if (!event.kind?.startsWith("media.") || !event.media_id) return;
  for (const holder of document.querySelectorAll(`[data-media-id="${event.media_id}"]`)) {
    const badge = holder.matches("[data-status]") ? holder : holder.querySelector("[data-status]");
    if (badge) {
      badge.className = `badge badge-${event.status}`;
      badge.textContent = event.frames
        ? `${LABELS[event.status]} ${Math.round((100 * event.frame) / event.frames)}%`
        : LABELS[event.status] ?? event.status;
    }
    const faces = holder.querySelector("[data-faces]");
    if (faces && event.status === "done") faces.textContent = `${event.faces} face${event.faces === 1 ? "" : "s"}`;
  }
  if (grid && SETTLED.has(event.status)) {
    redrawTile(event.media_id, { insert: event.status === "queued" && grid.matches("[data-live-insert]") });
  }
  if (counts.length && SETTLED.has(event.status)) refreshCounts();
  if (event.status === "done" && document.querySelector(`.media-view [data-media-id="${event.media_id}"]`)) {
    location.reload(); // the file now has faces to show
  }
});

// Multi-select: checkboxes in the tiles belong to the bulk form (form="bulk-form").
const bulk = document.querySelector("[data-bulk]");
function selected() { return [...document.querySelectorAll("[data-select]")].filter((box) => box.checked); }
function updateSelection() {
  if (!bulk) return;
  const count = selected().length;
  bulk.querySelector("[data-selected-count]").textContent = count ? `${count} selected` : "None selected";
  for (const button of bulk.querySelectorAll("[data-bulk-action]")) button.disabled = count === 0;
  const all = bulk.querySelector("[data-select-all]");
  const boxes = document.querySelectorAll("[data-select]");
  all.checked = boxes.length > 0 && count === boxes.length;
  all.indeterminate = count > 0 && count < boxes.length;
}
if (bulk) {
  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-select-all]")) {
      for (const box of document.querySelectorAll("[data-select]")) box.checked = event.target.checked;
    }
    if (event.target.matches("[data-select], [data-select-all]")) updateSelection();
  });
  bulk.addEventListener("submit", (event) => {
    if (event.submitter?.value === "delete" && !window.confirm(bulk.dataset.confirmDelete)) event.preventDefault();
  });
  updateSelection();
}
