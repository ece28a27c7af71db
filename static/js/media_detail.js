// Face boxes over the photo (positions in the image's own pixels), and the
// video timeline: one lane per row of the server's lane assignment, each
// track's bar at its time range (a click plays from there), a time axis, and
// a playhead that follows playback. Opens the video at ?t=<s> or #t=<s>.
for (const box of document.querySelectorAll(".face-box[data-box]")) {
  const [left, top, right, bottom] = box.dataset.box.split(",").map(Number);
  const [width, height] = box.dataset.size.split(",").map(Number);
  Object.assign(box.style, {
    left: `${(100 * left) / width}%`,
    top: `${(100 * top) / height}%`,
    width: `${(100 * (right - left)) / width}%`,
    height: `${(100 * (bottom - top)) / height}%`,
  });
}

const player = document.querySelector("[data-player]");
const timeline = document.querySelector("[data-timeline]");

function seek(seconds, play = true) {
  if (!player) return;
  const go = () => {
    player.currentTime = seconds;
    if (play) player.play().catch(() => { /* autoplay refused: the player shows the frame */ });
  };
  // The module may run after the metadata arrived: then there is no event to wait for.
  if (player.readyState >= 1) go();
  else player.addEventListener("loadedmetadata", go, { once: true });
}

// Search results and the Faces page link to "?t=<seconds>" (or "#t=<seconds>").
const asked = new URLSearchParams(location.search).get("t") ?? location.hash.match(/^#t=([\d.]+)$/)?.[1];
if (player && asked !== undefined && asked !== null && !Number.isNaN(Number(asked))) seek(Number(asked), false);

for (const button of document.querySelectorAll("[data-seek]")) {
  button.addEventListener("click", () => seek(Number(button.dataset.seek)));
}

function clock(seconds) {
  if (seconds < 60) return `${Number.isInteger(seconds) ? seconds : seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes}:${String(Math.round(seconds % 60)).padStart(2, "0")}`;
}

function drawAxis(axis, duration) {
  const step = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800].find((s) => duration / s <= 8) ?? 3600;
  for (let at = 0; at <= duration + 1e-9; at += step) {
    const tick = document.createElement("span");
    tick.className = "tick";
    tick.textContent = clock(Math.round(at * 10) / 10);
    tick.style.setProperty("--at", `${(100 * at) / duration}%`);
    axis.append(tick);
  }
}

// A label that does not fit its bar goes beside it where the lane has room, or
// gives way to the crop (the tooltip and the list below the lanes keep it).
function placeLabels() {
  for (const lane of timeline.querySelectorAll("[data-lane]")) {
    const bars = [...lane.querySelectorAll(".track")].sort((a, b) => a.offsetLeft - b.offsetLeft);
    bars.forEach((bar, i) => {
      bar.classList.remove("label-right", "label-left", "label-none");
      const label = bar.querySelector(".track-label");
      const needed = label.scrollWidth + 8;
      const image = bar.querySelector("img");
      const room = bar.clientWidth - (image ? image.offsetWidth + 8 : 4);
      if (needed <= room) return;
      const rightEdge = bars[i + 1] ? bars[i + 1].offsetLeft : lane.clientWidth;
      const leftEdge = bars[i - 1] ? bars[i - 1].offsetLeft + bars[i - 1].offsetWidth : 0;
      if (rightEdge - (bar.offsetLeft + bar.offsetWidth) >= needed) bar.classList.add("label-right");
      else if (bar.offsetLeft - leftEdge >= needed) bar.classList.add("label-left");
      else bar.classList.add("label-none");
    });
  }
}

if (player && timeline) {
  const duration = Number(timeline.dataset.duration) || 1;
  for (const item of timeline.querySelectorAll(".track, .join")) {
    const start = Number(item.dataset.start);
    const end = Number(item.dataset.end);
    item.style.setProperty("--start", `${(100 * start) / duration}%`);
    item.style.setProperty("--length", `${(100 * Math.max(end - start, 0)) / duration}%`);
  }
  drawAxis(timeline.querySelector("[data-axis]"), duration);
  placeLabels();
  window.addEventListener("resize", placeLabels);

  const playhead = timeline.querySelector("[data-playhead]");
  const bars = [...timeline.querySelectorAll(".track")];
  const follow = () => {
    const now = player.currentTime;
    playhead.style.setProperty("--at", `${Math.min(100, (100 * now) / duration)}%`);
    for (const bar of bars) {
      bar.classList.toggle("current", Number(bar.dataset.start) <= now && now <= Number(bar.dataset.end));
    }
  };
  let frame = null;
  const tick = () => { follow(); frame = player.paused ? null : requestAnimationFrame(tick); };
  player.addEventListener("play", () => { if (frame === null) frame = requestAnimationFrame(tick); });
  for (const name of ["timeupdate", "seeked", "loadedmetadata"]) player.addEventListener(name, follow);
  follow();

  // A click on the axis or an empty part of a lane seeks there.
  timeline.addEventListener("click", (event) => {
    if (event.target.closest(".track")) return;
    const box = timeline.getBoundingClientRect();
    seek((duration * (event.clientX - box.left)) / box.width, false);
  });
}
