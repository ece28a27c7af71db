// The live wall: when a mark or a correction arrives on the tenant's events
// socket (events.js dispatches "facet:event"), reload the wall's body.
const wall = document.querySelector("[data-wall]");
let timer = null;

async function refresh() {
  const response = await fetch(wall.dataset.url, { credentials: "same-origin" });
  if (response.ok) wall.innerHTML = await response.text();
}

document.addEventListener("facet:event", (event) => {
  if (!String(event.detail.kind || "").startsWith("attendance.")) return;
  clearTimeout(timer);
  timer = setTimeout(refresh, 250);
});
