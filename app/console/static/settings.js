// Settings page (console/settings.html), an enhancement only: every form
// works without it.
// - Choosing another theme shows its settings at once (the form's
//   "Show its settings" button does the same without script).
// - Each colour written as #rrggbb gets a colour picker beside it; the two
//   stay in step, and the text field is what the form sends.
(function () {
  "use strict";
  var choice = document.getElementById("theme-choice");
  var show = document.getElementById("theme-show");
  if (choice && show) {
    show.hidden = true;
    choice.addEventListener("change", function () { choice.form.submit(); });
  }
  var hex = /^#[0-9a-fA-F]{6}$/;
  document.querySelectorAll("input.color-text").forEach(function (text) {
    var picker = document.createElement("input");
    picker.type = "color";
    picker.className = "color-picker";
    picker.tabIndex = -1;
    picker.setAttribute("aria-hidden", "true");
    picker.value = hex.test(text.value) ? text.value.toLowerCase() : "#000000";
    picker.addEventListener("input", function () { text.value = picker.value; });
    text.addEventListener("input", function () {
      if (hex.test(text.value)) { picker.value = text.value.toLowerCase(); }
    });
    text.parentNode.appendChild(picker);
  });
})();
