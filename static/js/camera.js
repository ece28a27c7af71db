// The browser camera for the portal: start it in a <video>, take JPEG shots.
// Used by the person page (enrol 3 shots) and "Who is this?".
export async function startCamera(video) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 1280 }, height: { ideal: 720 }, facingMode: "user" },
    audio: false,
  });
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  await pictureReady(video);
  return stream;
}

// A playing <video> may not have a picture yet: wait for its first frame.
function pictureReady(video) {
  if (video.videoWidth > 0) return Promise.resolve();
  return new Promise((resolve) => {
    const check = () => (video.videoWidth > 0 ? resolve() : requestAnimationFrame(check));
    check();
  });
}

// A JPEG of the current picture; maxWidth > 0 scales it down (kiosks send small frames).
export async function shot(video, name = "shot.jpg", maxWidth = 0) {
  await pictureReady(video);
  const canvas = document.createElement("canvas");
  const scale = maxWidth > 0 ? Math.min(1, maxWidth / video.videoWidth) : 1;
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) =>
    canvas.toBlob(
      (blob) => (blob ? resolve(new File([blob], name, { type: "image/jpeg" })) : reject(new Error("no picture"))),
      "image/jpeg",
      0.92,
    ),
  );
}

export const csrfToken = () =>
  decodeURIComponent(document.cookie.match(/(?:^|; )csrftoken=([^;]+)/)?.[1] ?? "");

export const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
