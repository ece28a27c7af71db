// The person page's "Use the camera": three shots a second apart, each
// enrolled through POST /api/v1/people/<id>/faces/ (source=webcam).
import { csrfToken, shot, startCamera, wait } from "./camera.js";

const box = document.querySelector("[data-webcam-enrol]");
if (box) {
  const video = box.querySelector("[data-webcam-video]");
  const start = box.querySelector("[data-webcam-start]");
  const shoot = box.querySelector("[data-webcam-shoot]");
  const status = box.querySelector("[data-webcam-status]");
  const shots = Number(box.dataset.shots || 3);

  start.addEventListener("click", async () => {
    try {
      await startCamera(video);
      start.hidden = true;
      shoot.hidden = false;
      status.textContent = "Look at the camera, then take the shots.";
    } catch (error) {
      status.textContent = `The camera could not be opened: ${error.message}`;
    }
  });

  shoot.addEventListener("click", async () => {
    shoot.disabled = true;
    let enrolled = 0;
    const refusals = [];
    for (let n = 1; n <= shots; n += 1) {
      status.textContent = `Shot ${n} of ${shots}…`;
      const data = new FormData();
      data.append("photo", await shot(video, `webcam-${n}.jpg`));
      data.append("source", "webcam");
      const response = await fetch(box.dataset.url, {
        method: "POST",
        body: data,
        headers: { "X-CSRFToken": csrfToken() },
        credentials: "same-origin",
      });
      if (response.ok) enrolled += 1;
      else refusals.push((await response.json()).detail);
      await wait(1000);
    }
    status.textContent = `${enrolled} of ${shots} shots enrolled.` + (refusals.length ? ` Not enrolled: ${refusals.join(" ")}` : "");
    shoot.disabled = false;
    if (enrolled) setTimeout(() => window.location.reload(), 1500);
  });
}
