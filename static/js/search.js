// The search page: sends the photo (or a stored face) to /api/v1/search/ and
// draws ranked crops that open the file at the right moment, plus a
// "who appears when" bar per video.
const form = document.querySelector("[data-search-form]");
const input = form.querySelector("[data-image-input]");
const zone = form.querySelector("[data-dropzone]");
const slider = form.querySelector("[data-threshold]");
const sliderValue = form.querySelector("[data-threshold-value]");
const errorBox = document.querySelector("[data-search-error]");
const resultsBox = document.querySelector("[data-results]");
const csrf = decodeURIComponent(document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? "");
let photo = null;
let faceIndex = null;
const faceId = form.dataset.faceId;

slider.addEventListener("input", () => { sliderValue.textContent = Number(slider.value).toFixed(2); });

function take(file) {
  photo = file;
  faceIndex = null;
  form.querySelector("[data-query-note]").textContent = `Photo: ${file.name}`;
  search();
}
input.addEventListener("change", () => input.files[0] && take(input.files[0]));
zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  zone.classList.remove("over");
  if (e.dataTransfer.files[0]) take(e.dataTransfer.files[0]);
});
form.addEventListener("submit", (e) => { e.preventDefault(); search(); });

function body() {
  const data = new FormData();
  if (photo) data.append("image", photo);
  else if (faceId) data.append("face_id", faceId);
  if (faceIndex !== null) data.append("face_index", faceIndex);
  for (const name of ["threshold", "top_k", "kind", "source", "person"]) {
    const value = form.elements[name]?.value;
    if (value) data.append(name, value);
  }
  for (const name of ["created_after", "created_before"]) {
    const value = form.elements[name].value;
    if (value) data.append(name, `${value}T00:00:00`);
  }
  return data;
}

async function search() {
  if (!photo && !faceId) { showError("Choose a photo first."); return; }
  errorBox.hidden = true;
  const response = await fetch("/api/v1/search/", {
    method: "POST", body: body(), headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
  });
  const reply = await response.json().catch(() => ({}));
  if (!response.ok) {
    showError(reply.detail ?? Object.values(reply).flat().join(" ") ?? response.statusText);
    return;
  }
  render(reply);
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
  resultsBox.hidden = true;
}

function seconds(value) { return `${Number(value).toFixed(1)} s`; }

function render(reply) {
  const list = resultsBox.querySelector("[data-result-list]");
  list.replaceChildren();
  resultsBox.querySelector("[data-results-title]").textContent = reply.results.length
    ? `${reply.results.length} match${reply.results.length === 1 ? "" : "es"} (similarity ≥ ${reply.threshold.toFixed(2)})`
    : `No matches at similarity ≥ ${reply.threshold.toFixed(2)}. Lower the threshold to see closer look-alikes.`;
  for (const hit of reply.results) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    const at = hit.time_range ? `#t=${hit.time_range[0]}` : `#face-${hit.face_id}`;
    link.href = hit.media_url + at;
    const img = document.createElement("img");
    img.src = hit.crop_url;
    img.alt = `Match in ${hit.media_name}`;
    link.append(img);
    const caption = document.createElement("span");
    caption.textContent = `${hit.media_name} · ${hit.similarity.toFixed(2)}` +
      (hit.time_range ? ` · ${seconds(hit.time_range[0])}–${seconds(hit.time_range[1])}` : "");
    item.append(link, caption);
    list.append(item);
  }
  const timelines = resultsBox.querySelector("[data-timelines]");
  timelines.replaceChildren();
  for (const timeline of reply.timelines) {
    const heading = document.createElement("h3");
    heading.textContent = `${timeline.media_name}: who appears when`;
    const bar = document.createElement("div");
    bar.className = "timeline";
    const duration = timeline.duration_s || Math.max(...timeline.appearances.map((a) => a.end_s)) || 1;
    for (const appearance of timeline.appearances) {
      const link = document.createElement("a");
      link.className = "track";
      link.href = `/library/${timeline.media_id}/#t=${appearance.start_s}`;
      link.style.setProperty("--start", `${(100 * appearance.start_s) / duration}%`);
      link.style.setProperty("--length", `${Math.max((100 * (appearance.end_s - appearance.start_s)) / duration, 1)}%`);
      link.textContent = `${seconds(appearance.start_s)}–${seconds(appearance.end_s)}`;
      bar.append(link);
    }
    timelines.append(heading, bar);
  }
  const facesBox = document.querySelector("[data-query-faces]");
  const faces = reply.query.faces ?? [];
  facesBox.hidden = faces.length < 2;
  const faceList = facesBox.querySelector("[data-query-face-list]");
  faceList.replaceChildren();
  for (const face of faces) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `Face ${face.index + 1}${face.index === reply.query.face_index ? " (searched)" : ""}`;
    button.addEventListener("click", () => { faceIndex = face.index; search(); });
    faceList.append(button);
  }
  resultsBox.hidden = false;
}

if (faceId) search();
