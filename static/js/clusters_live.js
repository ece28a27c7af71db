// People to name: while files are being grouped, say so and offer a reload
// (events.js dispatches "facet:event" for every tenant event).
const notice = document.querySelector("[data-clusters-live]");
const pending = document.querySelector("[data-clusters-pending]");

document.addEventListener("facet:event", ({ detail: event }) => {
  if (!event.kind?.startsWith("clusters.")) return;
  if (event.kind === "clusters.progress" && pending) {
    const waiting = Number(pending.textContent) || 0;
    pending.textContent = String(Math.max(waiting + (event.pending || 0), 0));
  }
  if (notice) notice.hidden = false;
});
