// Keeps status badges and face counts of the files on this page current,
// from the tenant's event stream (events.js dispatches "facet:event").
const LABELS = { queued: "Queued", processing: "Processing", done: "Done", failed: "Failed" };

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
  if (event.status === "done" && document.querySelector(`.media-view [data-media-id="${event.media_id}"]`)) {
    location.reload(); // the file now has faces to show
  }
});
