// Small behaviours every portal page may use, bound from data attributes so
// that no page needs inline script (the Content-Security-Policy forbids it).
//   <select data-autosubmit>   submits its form when changed
//   <form data-confirm="...">  asks before submitting
document.addEventListener("change", (event) => {
  const field = event.target.closest("[data-autosubmit]");
  if (field && field.form) field.form.requestSubmit();
});

document.addEventListener("submit", (event) => {
  const question = event.target.dataset?.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
