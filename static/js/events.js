// Live tenant events over /ws/events/: reconnects with back-off and renders
// each event into [data-events-list]. Pages that show progress listen for the
// "facet:event" DOM event this module dispatches. A list with
// data-events-recent="<url>" first shows what happened before the page was
// loaded (the library's latest file states), so a reload loses nothing.
const list = document.querySelector("[data-events-list]");
const status = document.querySelector("[data-events-status]");
const MAX_ITEMS = 50;
const SIGNED_OUT = 4401; // the server's close code for an ended session or token
let retryDelay = 1000;

function describe(event) {
  if (event.message) return event.message;
  const { kind, ...rest } = event;
  return `${kind}: ${JSON.stringify(rest)}`;
}

function render(event, { at = new Date(), earlier = false } = {}) {
  if (!list) return;
  list.querySelector("[data-events-empty]")?.remove();
  const item = document.createElement("li");
  item.dataset.kind = event.kind;
  if (event.status) item.dataset.status = event.status;
  const time = document.createElement("time");
  time.dateTime = at.toISOString();
  const today = at.toDateString() === new Date().toDateString();
  time.textContent = today ? at.toLocaleTimeString() : at.toLocaleString();
  item.append(time, " ", describe(event));
  if (event.media_id) {
    const link = document.createElement("a");
    link.href = `/library/${event.media_id}/`;
    link.textContent = "view";
    link.setAttribute("aria-label", `view ${event.name ?? "the file"}`);
    item.append(" · ", link);
  }
  if (earlier) list.append(item);
  else list.prepend(item);
  while (list.children.length > MAX_ITEMS) list.lastElementChild.remove();
}

async function loadRecent() {
  const url = list?.dataset.eventsRecent;
  if (!url) return;
  const response = await fetch(url, { credentials: "same-origin" }).catch(() => null);
  if (!response?.ok) return;
  const items = await response.json();
  for (const event of items) render(event, { at: new Date(event.at), earlier: true });
}

function setStatus(text, state) {
  if (!status) return;
  status.textContent = text;
  status.dataset.state = state;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/events/`);
  socket.addEventListener("open", () => {
    retryDelay = 1000;
    setStatus("live", "open");
  });
  socket.addEventListener("message", (message) => {
    const event = JSON.parse(message.data);
    if (event.kind === "pong") return;
    render(event);
    document.dispatchEvent(new CustomEvent("facet:event", { detail: event }));
  });
  socket.addEventListener("close", (closed) => {
    if (closed.code === SIGNED_OUT) {
      // The session ended (signed out elsewhere, expired): reconnecting cannot help.
      setStatus("signed out — reload the page to sign in again", "signed-out");
      return;
    }
    setStatus("reconnecting…", "closed");
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  });
}

loadRecent().finally(connect);
