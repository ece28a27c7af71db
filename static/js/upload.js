// Drag-and-drop upload: each file goes to the API on its own request with its
// own progress bar; processing progress then arrives over the event stream.
const zone = document.querySelector("[data-dropzone]");
const input = document.querySelector("[data-file-input]");
const list = document.querySelector("[data-upload-list]");
const csrf = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? "";
const rows = new Map(); // media id -> row

function row(file) {
  const item = document.createElement("li");
  item.innerHTML = `<span class="name"></span> <progress max="100" value="0"></progress> <span class="state">waiting</span>`;
  item.querySelector(".name").textContent = file.name;
  list.append(item);
  return item;
}

function setState(item, text, cls) {
  item.querySelector(".state").textContent = text;
  if (cls) item.dataset.state = cls;
}

function send(file) {
  const item = row(file);
  const isZip = file.name.toLowerCase().endsWith(".zip");
  const body = new FormData();
  body.append("file", file);
  const request = new XMLHttpRequest();
  request.open("POST", isZip ? "/api/v1/media/batch/" : "/api/v1/media/");
  request.setRequestHeader("X-CSRFToken", decodeURIComponent(csrf));
  request.upload.addEventListener("progress", (event) => {
    if (event.lengthComputable) {
      item.querySelector("progress").value = (100 * event.loaded) / event.total;
      setState(item, `uploading ${Math.round((100 * event.loaded) / event.total)}%`);
    }
  });
  request.addEventListener("load", () => {
    let reply = {};
    try { reply = JSON.parse(request.responseText); } catch { /* not JSON: report status */ }
    if (request.status === 201) {
      rows.set(reply.id, item);
      setState(item, "queued for processing", "queued");
      item.dataset.mediaId = reply.id;
    } else if (request.status === 200) {
      setState(item, "already in the library", "duplicate");
      item.querySelector("progress").value = 100;
    } else if (request.status === 202) {
      const note = `${reply.accepted.length} files queued` +
        (reply.rejected.length ? `, ${reply.rejected.length} refused: ` +
          reply.rejected.map((r) => `${r.name} (${r.reason})`).join("; ") : "");
      setState(item, note, reply.rejected.length ? "partial" : "queued");
      for (const accepted of reply.accepted) rows.set(accepted.id, item);
    } else {
      setState(item, `refused: ${reply.detail ?? request.statusText}`, "failed");
    }
  });
  request.addEventListener("error", () => setState(item, "network error: try again", "failed"));
  request.send(body);
}

document.addEventListener("facet:event", ({ detail: event }) => {
  const item = rows.get(event.media_id);
  if (!item || !event.kind?.startsWith("media.")) return;
  const progress = item.querySelector("progress");
  if (event.status === "processing") {
    if (event.frames) progress.value = (100 * event.frame) / event.frames;
    setState(item, event.frames ? `processing frame ${event.frame} of ${event.frames}` : "processing", "processing");
  } else if (event.status === "done") {
    progress.value = 100;
    item.querySelector(".state").innerHTML = `done: ${event.faces} face${event.faces === 1 ? "" : "s"} · <a href="/library/${event.media_id}/">view</a>`;
    item.dataset.state = "done";
  } else if (event.status === "failed") {
    setState(item, `failed: ${event.error}`, "failed");
  }
});

function take(files) { for (const file of files) send(file); }
input.addEventListener("change", () => { take(input.files); input.value = ""; });
zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  take(event.dataTransfer.files);
});
