// The kiosk page: the browser camera sends frames over /ws/kiosk/ (1 a second,
// 2 while a face is in view) and shows each answer: "Welcome, Alice — 08:57",
// "Already marked", "Not recognised — please see the office", with the boxes.
// The key is entered once and kept in this browser; a dropped connection is
// retried with back-off (the server's cooldown keeps a resent frame from
// marking anyone twice).
import { shot, startCamera, wait } from "./camera.js";

const STORE = "facet-kiosk-key";
const SIGNED_OUT = 4401;
const FRAME_WIDTH = 640;
const form = document.querySelector("[data-kiosk-key-form]");
const keyInput = document.querySelector("[data-kiosk-key]");
const video = document.querySelector("[data-kiosk-video]");
const figure = document.querySelector("[data-kiosk-figure]");
const message = document.querySelector("[data-kiosk-message]");
const connection = document.querySelector("[data-kiosk-connection]");
const title = document.querySelector("[data-kiosk-name]");
const forget = document.querySelector("[data-kiosk-forget]");

let socket = null;
let key = null;
let ready = false;
let retryDelay = 1000;
let pending = null; // resolves with the answer to the frame in flight
let messageUntil = 0;

const clock = (iso) =>
  new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

function say(text, state, holdMs = 4000) {
  message.textContent = text;
  message.dataset.state = state;
  messageUntil = Date.now() + holdMs;
}

function drawBoxes(answer, width, height) {
  figure.querySelectorAll(".face-box").forEach((node) => node.remove());
  const boxes = [
    ...answer.marks.map((m) => [m.box, m.status === "not-member" ? "unknown" : "named", m.person.name]),
    ...answer.unknown_boxes.map((b) => [b, "unknown", "?"]),
  ];
  for (const [[left, top, right, bottom], kind, name] of boxes) {
    const node = document.createElement("span");
    node.className = `face-box ${kind}`;
    node.style.left = `${(100 * left) / width}%`;
    node.style.top = `${(100 * top) / height}%`;
    node.style.width = `${(100 * (right - left)) / width}%`;
    node.style.height = `${(100 * (bottom - top)) / height}%`;
    const tag = document.createElement("span");
    tag.className = "face-name";
    tag.textContent = name;
    node.append(tag);
    figure.append(node);
  }
}

function show(answer, width, height) {
  drawBoxes(answer, width, height);
  const marked = answer.marks.filter((m) => m.status === "marked");
  const cooled = answer.marks.filter((m) => m.status === "cooldown");
  const other = answer.marks.filter((m) => m.status === "not-member");
  if (marked.length) {
    say(marked.map((m) => `Welcome, ${m.person.name} — ${clock(m.at)}`).join(" · "), "marked");
  } else if (cooled.length) {
    say(cooled.map((m) => `Already marked, ${m.person.name} (${clock(m.at)})`).join(" · "), "cooldown");
  } else if (other.length) {
    say(other.map((m) => `${m.person.name}: not expected at this kiosk`).join(" · "), "unknown");
  } else if (answer.unknown) {
    say("Not recognised — please see the office", "unknown");
  } else if (Date.now() > messageUntil) {
    say("Look at the camera", "idle", 0);
  }
}

function stop(text) {
  ready = false;
  say(text, "error", 1e9);
  connection.textContent = "";
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws/kiosk/`);
  socket.addEventListener("open", () => {
    connection.textContent = "connecting…";
    socket.send(JSON.stringify({ kind: "auth", key }));
  });
  socket.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    if (data.kind === "ready") {
      retryDelay = 1000;
      ready = true;
      title.textContent = data.kiosk.name;
      connection.dataset.state = "open";
      connection.textContent = `connected · ${data.kiosk.location || ""}`;
      if (!data.kiosk.open_now) say("This kiosk is closed now.", "closed", 0);
      else say("Look at the camera", "idle", 0);
    } else if (data.kind === "frame" || data.kind === "error") {
      if (data.kind === "error" && data.code === "invalid-key") {
        localStorage.removeItem(STORE);
      }
      pending?.(data);
      pending = null;
    }
  });
  socket.addEventListener("close", (closed) => {
    ready = false;
    pending?.(null);
    pending = null;
    connection.dataset.state = "closed";
    if (closed.code === SIGNED_OUT) {
      localStorage.removeItem(STORE);
      form.hidden = false;
      stop("This kiosk key is not accepted (revoked or rotated). Enter the new key.");
      return;
    }
    connection.textContent = `connection lost — retrying in ${Math.round(retryDelay / 1000)} s`;
    setTimeout(connect, retryDelay);
    retryDelay = Math.min(retryDelay * 2, 30000);
  });
}

function send(frame) {
  return new Promise((resolve) => {
    pending = resolve;
    socket.send(frame);
    setTimeout(() => pending === resolve && (pending = null, resolve(null)), 15000);
  });
}

async function loop() {
  for (;;) {
    if (!ready || socket.readyState !== WebSocket.OPEN) {
      await wait(250);
      continue;
    }
    const frame = await shot(video, "frame.jpg", FRAME_WIDTH);
    const width = Math.min(FRAME_WIDTH, video.videoWidth);
    const height = Math.round((video.videoHeight * width) / video.videoWidth);
    const answer = await send(frame);
    let faces = false;
    if (answer?.kind === "frame") {
      show(answer, width, height);
      faces = answer.marks.length + answer.unknown > 0;
    } else if (answer?.kind === "error") {
      say(answer.detail, answer.code === "kiosk-closed" ? "closed" : "error", 2000);
    }
    await wait(faces ? 500 : 1000);
  }
}

async function start(value) {
  key = value;
  form.hidden = true;
  forget.hidden = false;
  try {
    await startCamera(video);
  } catch (error) {
    stop(`The camera could not be opened: ${error.message}`);
    return;
  }
  connect();
  loop();
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const value = keyInput.value.trim();
  if (!value) return;
  localStorage.setItem(STORE, value);
  start(value);
});
forget.addEventListener("click", () => {
  localStorage.removeItem(STORE);
  location.reload();
});

// A key in the address's fragment (never sent to the server) or kept from before.
const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
if (fromHash) {
  localStorage.setItem(STORE, fromHash);
  history.replaceState(null, "", location.pathname);
}
const stored = localStorage.getItem(STORE);
if (stored) start(stored);
