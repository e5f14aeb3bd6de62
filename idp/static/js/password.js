// "Show password" beside every password field (progressive enhancement: without script
// the fields work as plain password fields and the form submits the same).
(function () {
  "use strict";
  var script = document.currentScript;
  var show = script.getAttribute("data-show");
  var hide = script.getAttribute("data-hide");
  var fields = document.querySelectorAll("input[type=password]");
  Array.prototype.forEach.call(fields, function (input) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary small reveal";
    button.textContent = show;
    button.setAttribute("aria-controls", input.id);
    button.setAttribute("aria-pressed", "false");
    button.addEventListener("click", function () {
      var shown = input.type === "text";
      input.type = shown ? "password" : "text";
      button.textContent = shown ? show : hide;
      button.setAttribute("aria-pressed", shown ? "false" : "true");
      input.focus();
    });
    input.insertAdjacentElement("afterend", button);
    // The password goes back to a password field before it is sent, so that the
    // browser's password manager sees it as one.
    if (input.form) {
      input.form.addEventListener("submit", function () {
        input.type = "password";
        button.textContent = show;
        button.setAttribute("aria-pressed", "false");
      });
    }
  });
})();
