// The workbench's only script: plain forms work without it; it keeps a form from being sent
// twice, asks before a data-confirm button acts, and marks the queue row last opened.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-once")) return;
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    // Disable after the submitter's value is taken into the request.
    window.setTimeout(function () {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    }, 0);
  });
  var queue = document.getElementById("queue");
  if (queue && window.sessionStorage) {
    var last = window.sessionStorage.getItem("recoup.lastAccount");
    queue.querySelectorAll("tr[data-account]").forEach(function (row) {
      if (row.getAttribute("data-account") === last) row.style.outline = "2px solid #7fb2ff";
      row.addEventListener("click", function () {
        window.sessionStorage.setItem("recoup.lastAccount", row.getAttribute("data-account"));
      });
    });
  }
})();
