// Refreshes the member QR code in place, without reloading the page: the code is signed for a
// short time, so a phone left open at the till must keep showing a fresh one.
(function () {
  "use strict";
  var box = document.getElementById("member-code");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-refresh-url");
  var seconds = parseInt(box.getAttribute("data-refresh-seconds"), 10) || 60;
  var picture = document.getElementById("member-qr");
  var text = document.getElementById("member-code-text");
  var status = document.getElementById("member-code-status");

  function refresh() {
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) {
        picture.innerHTML = body.svg;
        text.textContent = body.code;
        box.setAttribute("data-code", body.code);
        box.setAttribute("data-refreshes", String((parseInt(box.getAttribute("data-refreshes"), 10) || 0) + 1));
        if (status) { status.textContent = ""; }
      })
      .catch(function () {
        if (status) { status.textContent = box.getAttribute("data-offline-text") || ""; }
      });
  }

  window.setInterval(refresh, seconds * 1000);
  // A phone that was asleep gets a fresh code the moment the page is shown again.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { refresh(); }
  });
})();
