// The member code on the account page. The page holds a day of signed codes (one per hour, see
// docs/member-code.md), shows the one for the current hour with a countdown, and draws its QR code
// itself, so a phone with no connection keeps showing a valid code. While online it fetches the
// codes again now and then; when the last code it holds has run out the code is greyed and hidden.
(function () {
  "use strict";
  var box = document.getElementById("member-code");
  var data = document.getElementById("member-codes");
  if (!box || !data) { return; }
  var SVG = "http://www.w3.org/2000/svg";
  var url = box.getAttribute("data-refresh-url");
  var seconds = parseInt(box.getAttribute("data-refresh-seconds"), 10) || 300;
  var picture = document.getElementById("member-qr");
  var countdown = document.getElementById("member-countdown");
  var expired = document.getElementById("member-expired");
  var status = document.getElementById("member-code-status");
  var short = document.getElementById("member-short");
  var lang = document.documentElement.lang || "en";
  var plurals = window.Intl && Intl.PluralRules ? new Intl.PluralRules(lang) : null;
  var codes = JSON.parse(data.textContent);
  var offset = Date.parse(box.getAttribute("data-now")) - Date.now();  // head office's clock minus ours
  var shown = box.getAttribute("data-code");

  function draw(rows) {
    var size = rows.length + 8;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + size + " " + size);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", box.getAttribute("data-label"));
    svg.setAttribute("shape-rendering", "crispEdges");
    svg.setAttribute("class", "qr");
    var back = document.createElementNS(SVG, "rect");
    back.setAttribute("width", size);
    back.setAttribute("height", size);
    back.setAttribute("fill", "#fff");
    svg.appendChild(back);
    var d = "";
    rows.forEach(function (row, y) {
      var x = 0;
      while (x < row.length) {
        if (row.charAt(x) === "1") {
          var start = x;
          while (x < row.length && row.charAt(x) === "1") { x += 1; }
          d += "M" + (start + 4) + " " + (y + 4) + "h" + (x - start) + "v1h-" + (x - start) + "z";
        } else {
          x += 1;
        }
      }
    });
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("fill", "#000");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }

  function minutesText(n) {
    var form = plurals && plurals.select(n) === "one" ? "data-left-one" : "data-left-other";
    return box.getAttribute(form).replace("{n}", n.toLocaleString(lang));
  }

  function tick() {
    var now = Date.now() + offset;
    var current = null;
    codes.forEach(function (code) {
      if (Date.parse(code.valid_from) <= now && now < Date.parse(code.valid_until)) { current = code; }
    });
    if (!current) {
      box.classList.add("expired");
      box.setAttribute("data-code", "");
      if (short) { short.textContent = ""; }
      picture.textContent = "";
      picture.hidden = true;
      countdown.hidden = true;
      expired.hidden = false;
      shown = "";
      return;
    }
    if (current.code !== shown) {
      picture.textContent = "";
      picture.appendChild(draw(current.rows));
      box.setAttribute("data-code", current.code);
      if (short) { short.textContent = current.short || ""; }
      box.setAttribute("data-changes", String((parseInt(box.getAttribute("data-changes"), 10) || 0) + 1));
      shown = current.code;
    }
    box.classList.remove("expired");
    picture.hidden = false;
    expired.hidden = true;
    countdown.hidden = false;
    countdown.textContent = minutesText(Math.max(1, Math.ceil((Date.parse(current.valid_until) - now) / 60000)));
  }

  function refresh() {
    if (!window.fetch) { return; }
    fetch(url, { credentials: "same-origin", cache: "no-store", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (body) {
        codes = body.codes;
        offset = Date.parse(body.now) - Date.now();
        box.setAttribute("data-refreshes", String((parseInt(box.getAttribute("data-refreshes"), 10) || 0) + 1));
        if (status) { status.textContent = ""; }
        tick();
      })
      .catch(function () {
        if (status) { status.textContent = box.getAttribute("data-offline-text") || ""; }
      });
  }

  tick();
  window.setInterval(tick, 1000);
  window.setInterval(refresh, seconds * 1000);
  // A phone that was asleep shows the right code the moment the page is shown again.
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { tick(); refresh(); }
  });
})();
