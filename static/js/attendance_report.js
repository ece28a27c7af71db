// The attendance-rate chart of the reports page (Chart.js, served from static/vendor/).
const data = JSON.parse(document.getElementById("rate-chart-data").textContent);
const canvas = document.querySelector("[data-rate-chart]");

new window.Chart(canvas, {
  type: "line",
  data: {
    labels: data.labels.map((week) => `week of ${week}`),
    datasets: [{ label: "Attendance rate (%)", data: data.rates, spanGaps: true, tension: 0.2 }],
  },
  options: {
    animation: false,
    scales: { y: { min: 0, max: 100, ticks: { callback: (value) => `${value}%` } } },
  },
});
