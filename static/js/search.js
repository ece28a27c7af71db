// The search page: sends the photo (or a stored face) to /api/v1/search/ once
// for the top k faces, whatever their similarity, then draws them here: the
// query with its face boxed (crops to pick another face of a group photo),
// ranked crops with their similarity, the "likely the same person" band above
// the model's match threshold and a divider where it ends, and a "who appears
// when" bar per video. The slider filters what was fetched, in the page.
const form = document.querySelector("[data-search-form]");
const input = form.querySelector("[data-image-input]");
const zone = form.querySelector("[data-dropzone]");
const slider = form.querySelector("[data-threshold]");
const sliderValue = form.querySelector("[data-threshold-value]");
const errorBox = document.querySelector("[data-search-error]");
const resultsBox = document.querySelector("[data-results]");
const queryBox = document.querySelector("[data-query]");
const csrf = decodeURIComponent(document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? "");
const faceId = form.dataset.faceId;
let matchThreshold = Number(form.dataset.matchThreshold);
let photo = null;
let photoUrl = null;
let faceIndex = null;
let reply = null;

function take(file) {
  photo = file;
  faceIndex = null;
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = URL.createObjectURL(file);
  form.querySelector("[data-query-note]").textContent = `Photo: ${file.name}`;
  search();
}
input.addEventListener("change", () => input.files[0] && take(input.files[0]));
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter") { event.preventDefault(); if (input.showPicker) input.showPicker(); else input.click(); }
});
zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  zone.classList.remove("over");
  if (e.dataTransfer.files[0]) take(e.dataTransfer.files[0]);
});
form.addEventListener("submit", (e) => { e.preventDefault(); search(); });
slider.addEventListener("input", () => {
  sliderValue.textContent = Number(slider.value).toFixed(2);
  if (reply) drawResults();
});

function body() {
  const data = new FormData();
  if (photo) data.append("image", photo);
  else if (faceId) data.append("face_id", faceId);
  if (faceIndex !== null) data.append("face_index", faceIndex);
  // Every one of the top k, whatever its similarity: the slider filters them here.
  data.append("threshold", "-1");
  for (const name of ["top_k", "kind", "source", "person"]) {
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
  resultsBox.setAttribute("aria-busy", "true");
  const response = await fetch("/api/v1/search/", {
    method: "POST", body: body(), headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
  });
  const answer = await response.json().catch(() => ({}));
  resultsBox.removeAttribute("aria-busy");
  if (!response.ok) {
    showError(answer.detail ?? Object.values(answer).flat().join(" ") ?? response.statusText);
    return;
  }
  reply = answer;
  matchThreshold = reply.model.match_threshold ?? matchThreshold;
  drawQuery();
  drawResults();
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = false;
  resultsBox.hidden = true;
}

function seconds(value) { return `${Number(value).toFixed(1)} s`; }
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// The query: its photo with the searched face boxed, and for a photo of
// several faces, a crop of each to search for instead.
function drawQuery() {
  const query = reply.query;
  const image = queryBox.querySelector("[data-query-image]");
  const box = queryBox.querySelector("[data-query-box]");
  const source = query.source === "image" ? photoUrl : query.image_url ?? query.crop_url;
  const size = query.size;
  queryBox.hidden = false;
  image.src = source;
  image.alt = query.source === "image" ? `The searched photo, ${photo.name}` : `The searched face, from ${query.media_name}`;
  box.hidden = !size;
  if (size) {
    const [left, top, right, bottom] = query.box;
    Object.assign(box.style, {
      left: `${(100 * left) / size[0]}%`, top: `${(100 * top) / size[1]}%`,
      width: `${(100 * (right - left)) / size[0]}%`, height: `${(100 * (bottom - top)) / size[1]}%`,
    });
  }
  const facesBox = queryBox.querySelector("[data-query-faces]");
  const faces = query.faces ?? [];
  facesBox.hidden = faces.length < 2;
  const list = facesBox.querySelector("[data-query-face-list]");
  list.replaceChildren();
  if (faces.length < 2) return;
  const draw = () => {
    for (const face of faces) {
      const button = el("button", "query-face");
      button.type = "button";
      const chosen = face.index === query.face_index;
      button.setAttribute("aria-pressed", String(chosen));
      button.setAttribute("aria-label", `Face ${face.index + 1}${chosen ? " (searched)" : ""}`);
      button.append(crop(image, face.box), el("span", "", chosen ? "searched" : `face ${face.index + 1}`));
      button.addEventListener("click", () => { faceIndex = face.index; search(); });
      list.append(button);
    }
  };
  if (image.complete && image.naturalWidth) draw();
  else image.addEventListener("load", draw, { once: true });
}

function crop(image, [left, top, right, bottom]) {
  const canvas = el("canvas");
  const side = Math.max(right - left, bottom - top) * 1.3;
  const cx = (left + right) / 2;
  const cy = (top + bottom) / 2;
  canvas.width = canvas.height = 96;
  canvas.getContext("2d").drawImage(image, cx - side / 2, cy - side / 2, side, side, 0, 0, 96, 96);
  return canvas;
}

// The results above the slider's value, with the match band and its divider.
function drawResults() {
  const floor = Number(slider.value);
  const list = resultsBox.querySelector("[data-result-list]");
  list.replaceChildren();
  const shown = reply.results.filter((hit) => hit.similarity >= floor);
  const others = shown.filter((hit) => !hit.is_query_face);
  const likely = others.filter((hit) => hit.similarity >= matchThreshold).length;
  const title = resultsBox.querySelector("[data-results-title]");
  if (!others.length) {
    title.textContent = `No faces at similarity ≥ ${floor.toFixed(2)}. Lower the slider to see closer look-alikes.`;
  } else {
    title.textContent = `${others.length} face${others.length === 1 ? "" : "s"} at similarity ≥ ${floor.toFixed(2)}: ` +
      `${likely} likely the same person (≥ ${matchThreshold.toFixed(2)})`;
  }
  let dividerDrawn = false;
  shown.forEach((hit, rank) => {
    const above = hit.similarity >= matchThreshold;
    if (!above && !dividerDrawn && rank > 0) {
      const divider = el("li", "match-divider");
      divider.setAttribute("role", "separator");
      divider.textContent = `Likely matches end here: below ${matchThreshold.toFixed(2)}, faces are probably other people`;
      list.append(divider);
    }
    if (!above) dividerDrawn = true;
    list.append(resultItem(hit, above));
  });
  drawTimelines(floor);
  resultsBox.hidden = false;
}

function resultItem(hit, above) {
  const item = el("li", `result${above ? " above" : " below"}${hit.is_query_face ? " query-face-hit" : ""}`);
  const link = el("a");
  const at = hit.time_range ? `?t=${hit.frame_time_s ?? hit.time_range[0]}` : `#face-${hit.face_id}`;
  link.href = hit.media_url + at;
  const img = el("img");
  img.src = hit.crop_url;
  img.alt = `Face in ${hit.media_name}`;
  img.loading = "lazy";
  link.append(img);
  const score = el("span", "similarity", hit.similarity.toFixed(2));
  score.title = above ? "Similarity: at or above the match threshold" : "Similarity: below the match threshold";
  link.append(score);
  if (hit.is_query_face) link.append(el("span", "this-face", "this face"));
  const name = el("span", "result-name", hit.media_name);
  name.title = hit.media_name;
  item.append(link, name);
  if (hit.time_range) item.append(el("span", "hint", `${seconds(hit.time_range[0])}–${seconds(hit.time_range[1])}`));
  return item;
}

function drawTimelines(floor) {
  const timelines = resultsBox.querySelector("[data-timelines]");
  timelines.replaceChildren();
  for (const timeline of reply.timelines) {
    const appearances = timeline.appearances.filter((a) => a.similarity >= floor);
    if (!appearances.length) continue;
    const heading = el("h3", "", `${timeline.media_name}: when this face appears`);
    const bar = el("div", "timeline search-timeline");
    const duration = timeline.duration_s || Math.max(...timeline.appearances.map((a) => a.end_s)) || 1;
    // Greedy lanes: an appearance takes the first lane free at its start (with a
    // gap for the bars' minimum width), so overlapping ones never hide each other.
    const laneEnds = [];
    const lanes = [];
    const gap = 0.04 * duration;
    for (const appearance of [...appearances].sort((a, b) => a.start_s - b.start_s)) {
      let index = laneEnds.findIndex((end) => end + gap <= appearance.start_s);
      if (index === -1) {
        index = laneEnds.length;
        laneEnds.push(0);
        lanes.push(el("div", "lane"));
        bar.append(lanes[index]);
      }
      laneEnds[index] = Math.max(appearance.end_s, appearance.start_s + gap);
      const link = el("a", "track");
      link.href = `/library/${timeline.media_id}/?t=${appearance.start_s}`;
      link.style.setProperty("--start", `${(100 * appearance.start_s) / duration}%`);
      link.style.setProperty("--length", `${(100 * (appearance.end_s - appearance.start_s)) / duration}%`);
      link.title = `${seconds(appearance.start_s)}–${seconds(appearance.end_s)}, similarity ${appearance.similarity.toFixed(2)}`;
      link.append(el("span", "track-label", `${seconds(appearance.start_s)}–${seconds(appearance.end_s)}`));
      lanes[index].append(link);
    }
    timelines.append(heading, bar);
  }
}

if (faceId) search();
