// Face boxes over the photo (positions in the image's own pixels), and the
// video timeline: each track's bar sits at its time range; a click seeks there.
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
const timeline = document.querySelector(".timeline");
// Search results link to "#t=<seconds>": open the video at that moment.
const start = location.hash.match(/^#t=([\d.]+)$/);
if (player && start) {
  player.addEventListener("loadedmetadata", () => { player.currentTime = Number(start[1]); }, { once: true });
}
if (player && timeline) {
  const duration = Number(timeline.dataset.duration) || 1;
  for (const track of timeline.querySelectorAll(".track")) {
    const start = Number(track.dataset.start);
    const end = Number(track.dataset.end);
    track.style.setProperty("--start", `${(100 * start) / duration}%`);
    track.style.setProperty("--length", `${Math.max((100 * (end - start)) / duration, 1)}%`);
    track.addEventListener("click", () => {
      player.currentTime = Number(track.dataset.seek);
      player.play();
    });
  }
}
