// Drag-and-drop upload: each file (or zip) goes to the API on its own request
// with its own row; processing progress then arrives over the event stream.
// A row says where its file is (uploading, waiting for a worker, finding
// faces, frame n of m, done, failed with a Retry button, refused and why,
// already in the library with a link); a zip's row counts its members
// ("4 files: 3 done, 1 refused"); the summary counts everything ("12 of 21 done").
const zone = document.querySelector("[data-dropzone]");
const input = document.querySelector("[data-file-input]");
const list = document.querySelector("[data-upload-list]");
const summary = document.querySelector("[data-upload-summary]");
const csrf = decodeURIComponent(document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? "");
const uploads = []; // every row
const byMedia = new Map(); // media id -> row
const FINISHED = new Set(["done", "failed", "refused", "duplicate"]);

function plural(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }

class Row {
  constructor(file) {
    this.name = file.name;
    this.zip = file.name.toLowerCase().endsWith(".zip");
    this.files = new Map(); // media id -> {name, status, error}
    this.refused = []; // {name, reason}
    this.state = "uploading";
    this.item = document.createElement("li");
    this.item.innerHTML = '<span class="name"></span><progress max="100" value="0"></progress><span class="state" role="status"></span><span class="row-actions"></span><ul class="row-problems"></ul>';
    this.item.querySelector(".name").textContent = file.name;
    this.progress = this.item.querySelector("progress");
    this.text = this.item.querySelector(".state");
    this.actions = this.item.querySelector(".row-actions");
    this.problems = this.item.querySelector(".row-problems");
    list.append(this.item);
    uploads.push(this);
  }

  // How many files this row stands for, and how many are finished.
  get total() { return this.zip ? this.files.size + this.refused.length || 1 : 1; }
  get finished() {
    if (!this.zip) return FINISHED.has(this.state) ? 1 : 0;
    return this.refused.length + [...this.files.values()].filter((f) => FINISHED.has(f.status)).length;
  }

  set(state, text, { value } = {}) {
    this.state = state;
    this.item.dataset.state = state;
    if (text !== undefined) this.text.textContent = text;
    if (value === null) this.progress.removeAttribute("value"); // busy: an indeterminate bar
    else if (value !== undefined) this.progress.value = value;
    updateSummary();
  }

  link(href, text) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    this.actions.replaceChildren(a);
  }

  retryButton(mediaId) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary small";
    button.textContent = "Retry";
    button.setAttribute("aria-label", `Retry ${this.files.get(mediaId)?.name ?? this.name}`);
    button.addEventListener("click", () => retry(this, mediaId, button));
    return button;
  }

  // A zip's row: the counts of its members, and a line per refused or failed one.
  redrawZip() {
    const counts = { done: 0, failed: 0, duplicate: 0, busy: 0 };
    for (const file of this.files.values()) {
      if (file.status in counts) counts[file.status] += 1;
      else counts.busy += 1;
    }
    const parts = [];
    if (counts.done) parts.push(`${counts.done} done`);
    if (counts.busy) parts.push(`${counts.busy} processing`);
    if (counts.duplicate) parts.push(`${counts.duplicate} already in the library`);
    if (counts.failed) parts.push(`${counts.failed} failed`);
    if (this.refused.length) parts.push(`${this.refused.length} refused`);
    const state = counts.busy ? "processing" : counts.failed || this.refused.length ? "partial" : "done";
    this.set(state, `${plural(this.total, "file")}: ${parts.join(", ")}`, {
      value: counts.busy && this.finished === 0 ? null : (100 * this.finished) / this.total,
    });
    this.problems.replaceChildren();
    for (const refused of this.refused) {
      const line = document.createElement("li");
      line.dataset.state = "refused";
      line.textContent = `${refused.name}: refused, ${refused.reason}`;
      this.problems.append(line);
    }
    for (const [id, file] of this.files) {
      if (file.status !== "failed") continue;
      const line = document.createElement("li");
      line.dataset.state = "failed";
      line.textContent = `${file.name}: failed, ${file.error} `;
      line.append(this.retryButton(id));
      this.problems.append(line);
    }
  }
}

function updateSummary() {
  const total = uploads.reduce((n, row) => n + row.total, 0);
  const finished = uploads.reduce((n, row) => n + row.finished, 0);
  summary.hidden = total === 0;
  summary.textContent = `${finished} of ${total} done`;
  summary.dataset.state = finished === total ? "finished" : "busy";
}

function send(file) {
  const row = new Row(file);
  row.set("uploading", "uploading 0%");
  const body = new FormData();
  body.append("file", file);
  const request = new XMLHttpRequest();
  request.open("POST", row.zip ? "/api/v1/media/batch/" : "/api/v1/media/");
  request.setRequestHeader("X-CSRFToken", csrf);
  request.upload.addEventListener("progress", (event) => {
    if (!event.lengthComputable) return;
    const percent = Math.round((100 * event.loaded) / event.total);
    // Once sent, the server still checks the file: the bar says so instead of sitting full.
    if (percent < 100) row.set("uploading", `uploading ${percent}%`, { value: percent });
    else row.set("uploading", "checking the file…", { value: null });
  });
  request.addEventListener("load", () => {
    let reply = {};
    try { reply = JSON.parse(request.responseText); } catch { /* not JSON: report the status */ }
    if (request.status === 201) {
      row.files.set(reply.id, { name: file.name, status: "queued" });
      byMedia.set(reply.id, row);
      row.set("queued", "uploaded · waiting for a worker", { value: null });
    } else if (request.status === 200) {
      row.set("duplicate", "already in the library", { value: 100 });
      row.link(`/library/${reply.id}/`, "open it");
    } else if (request.status === 202) {
      for (const accepted of reply.accepted) {
        row.files.set(accepted.id, { name: accepted.name, status: accepted.duplicate ? "duplicate" : "queued" });
        if (!accepted.duplicate) byMedia.set(accepted.id, row);
      }
      row.refused = reply.rejected;
      row.redrawZip();
    } else {
      row.set("refused", `refused: ${reply.detail ?? request.statusText}`, { value: 100 });
    }
  });
  request.addEventListener("error", () => row.set("refused", "network error: try again", { value: 100 }));
  request.send(body);
}

async function retry(row, mediaId, button) {
  button.disabled = true;
  const response = await fetch(`/api/v1/media/${mediaId}/retry/`, {
    method: "POST", headers: { "X-CSRFToken": csrf }, credentials: "same-origin",
  });
  const reply = await response.json().catch(() => ({}));
  if (!response.ok) {
    button.disabled = false;
    button.textContent = `Retry (${reply.detail ?? response.statusText})`;
    return;
  }
  onStatus(row, mediaId, { status: "queued" });
}

function onStatus(row, mediaId, event) {
  const file = row.files.get(mediaId);
  if (!file) return;
  file.status = event.status;
  file.error = event.error;
  if (row.zip) { row.redrawZip(); return; }
  row.actions.replaceChildren();
  if (event.status === "queued") {
    row.set("queued", "queued again · waiting for a worker", { value: null });
  } else if (event.status === "processing") {
    if (event.frames) {
      row.set("processing", `finding faces: frame ${event.frame} of ${event.frames}`, { value: (100 * event.frame) / event.frames });
    } else {
      row.set("processing", "finding faces…", { value: null });
    }
  } else if (event.status === "done") {
    row.set("done", `done: ${plural(event.faces, "face")}`, { value: 100 });
    row.link(`/library/${mediaId}/`, "view");
  } else if (event.status === "failed") {
    row.set("failed", `failed: ${event.error}`, { value: 100 });
    row.actions.replaceChildren(row.retryButton(mediaId));
  }
}

document.addEventListener("facet:event", ({ detail: event }) => {
  const row = byMedia.get(event.media_id);
  if (row && event.kind?.startsWith("media.")) onStatus(row, event.media_id, event);
});

function take(files) { for (const file of files) send(file); }
input.addEventListener("change", () => { take(input.files); input.value = ""; });
// The picker is a real, focusable file input (in the Tab order, drawn as the
// "choose files" link): Enter opens it as Space does.
input.addEventListener("keydown", (event) => {
  if (event.key === "Enter") { event.preventDefault(); if (input.showPicker) input.showPicker(); else input.click(); }
});
zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  take(event.dataTransfer.files);
});
