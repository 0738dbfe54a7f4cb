// A form sent back with a problem: move the focus to the first field marked invalid, which also
// scrolls it into view, so the shopper sees the message where they are looking (the message is
// tied to the field with aria-describedby, so a screen reader reads it on focus).
(function () {
  "use strict";
  function focusFirstProblem() {
    var field = document.querySelector("[aria-invalid='true']");
    if (!field) { return; }
    var details = field.closest("details");
    if (details) { details.open = true; }
    field.focus();
    if (field.scrollIntoView) { field.scrollIntoView({ block: "center" }); }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusFirstProblem);
  } else {
    focusFirstProblem();
  }
})();
