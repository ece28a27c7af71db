// "Who is this?": sends a photo or a camera shot to /api/v1/identify/ and
// draws each face's box with its name (or "unknown") and the candidates.
import { csrfToken, shot, startCamera } from "./camera.js";

const form = document.querySelector("[data-identify-form]");
const fileInput = form.querySelector("[data-identify-file]");
const video = document.querySelector("[data-webcam-video]");
const startButton = form.querySelector("[data-webcam-start]");
const shootButton = form.querySelector("[data-webcam-shoot]");
const errorBox = document.querySelector("[data-identify-error]");
const result = document.querySelector("[data-identify-result]");
const figure = result.querySelector("[data-identify-figure]");
const image = result.querySelector("[data-identify-image]");
const list = result.querySelector("[data-identify-faces]");
// People a face may be enrolled for (only for members who may add).
const people = JSON.parse(document.getElementById("identify-people")?.textContent || "[]");
let lastPhoto = null;

function enrolForm(index, face) {
  const holder = document.createElement("span");
  holder.className = "face-label-form";
  const select = document.createElement("select");
  select.setAttribute("aria-label", "Who is this");
  for (const person of people) {
    const option = new Option(person.name, person.id, false, face.person?.id === person.id);
    select.append(option);
  }
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "This is them: enrol";
  const note = document.createElement("span");
  note.className = "hint";
  button.addEventListener("click", async () => {
    const data = new FormData();
    data.append("photo", lastPhoto);
    data.append("face_index", index);
    const response = await fetch(`/api/v1/people/${select.value}/faces/`, {
      method: "POST", body: data, headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin",
    });
    const reply = await response.json();
    note.textContent = response.ok ? " Enrolled." : ` Not enrolled: ${reply.detail}`;
  });
  holder.append(select, button);
  const proposed = face.person ?? face.candidates[0]?.person;
  if (proposed) {
    const reject = document.createElement("button");
    reject.type = "button";
    reject.className = "link";
    reject.textContent = `Not ${proposed.name}`;
    reject.addEventListener("click", async () => {
      const data = new FormData();
      data.append("photo", lastPhoto);
      data.append("face_index", index);
      data.append("not_person", proposed.id);
      const response = await fetch("/api/v1/identify/reject/", {
        method: "POST", body: data, headers: { "X-CSRFToken": csrfToken() }, credentials: "same-origin",
      });
      const reply = await response.json();
      note.textContent = response.ok ? ` Noted: never proposed for this face again.` : ` ${reply.detail}`;
    });
    holder.append(reject);
  }
  holder.append(note);
  return holder;
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

function label(face) {
  if (face.person) return `${face.person.name} (${face.similarity.toFixed(2)})`;
  if (face.reason === "low-quality") return "Unknown: the face is too small or blurred to name";
  return "Unknown";
}

function draw(answer, width, height) {
  figure.querySelectorAll(".face-box").forEach((node) => node.remove());
  list.replaceChildren();
  answer.faces.forEach((face, i) => {
    const [left, top, right, bottom] = face.box;
    const boxNode = document.createElement("span");
    boxNode.className = `face-box ${face.person ? "named" : "unknown"}`;
    boxNode.style.left = `${(100 * left) / width}%`;
    boxNode.style.top = `${(100 * top) / height}%`;
    boxNode.style.width = `${(100 * (right - left)) / width}%`;
    boxNode.style.height = `${(100 * (bottom - top)) / height}%`;
    const tag = document.createElement("span");
    tag.className = "face-name";
    tag.textContent = face.person ? face.person.name : "?";
    boxNode.append(tag);
    figure.append(boxNode);

    const item = document.createElement("li");
    item.dataset.identifyFace = i;
    const title = document.createElement("strong");
    title.textContent = label(face);
    item.append(title);
    if (face.candidates.length) {
      const others = document.createElement("span");
      others.className = "hint";
      others.textContent = " — candidates: " + face.candidates
        .map((c) => `${c.person.name} ${c.similarity.toFixed(2)}`).join(", ");
      item.append(others);
    }
    if (people.length) item.append(enrolForm(i, face));
    list.append(item);
  });
  if (!answer.faces.length) {
    const item = document.createElement("li");
    item.textContent = "No face was found in this photo.";
    list.append(item);
  }
}

async function identify(file) {
  showError("");
  const data = new FormData();
  data.append("photo", file);
  const response = await fetch("/api/v1/identify/", {
    method: "POST",
    body: data,
    headers: { "X-CSRFToken": csrfToken() },
    credentials: "same-origin",
  });
  const answer = await response.json();
  if (!response.ok) {
    showError(answer.detail || "The photo could not be identified.");
    return;
  }
  lastPhoto = file;
  const url = URL.createObjectURL(file);
  image.onload = () => draw(answer, image.naturalWidth, image.naturalHeight);
  image.src = url;
  result.hidden = false;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (fileInput.files[0]) identify(fileInput.files[0]);
  else showError("Choose a photo, or use the camera.");
});
fileInput.addEventListener("change", () => fileInput.files[0] && identify(fileInput.files[0]));
startButton.addEventListener("click", async () => {
  try {
    await startCamera(video);
    startButton.hidden = true;
    shootButton.hidden = false;
  } catch (error) {
    showError(`The camera could not be opened: ${error.message}`);
  }
});
shootButton.addEventListener("click", async () => identify(await shot(video, "camera.jpg")));
