// Fill the commune list when the province changes (progressive enhancement: without
// script, the form offers a button that reloads the page with the province's communes).
(function () {
  "use strict";
  var province = document.getElementById("province");
  var commune = document.getElementById("commune");
  if (!province || !commune) { return; }
  var base = province.getAttribute("data-communes-url");
  province.addEventListener("change", function () {
    var code = province.value;
    while (commune.options.length > 1) { commune.remove(1); }
    commune.value = "";
    // The first option tells what to do next: choose a province, or now a commune.
    var first = commune.getAttribute(code ? "data-choose-label" : "data-province-first-label");
    if (first) { commune.options[0].textContent = first; }
    if (!code) { return; }
    fetch(base + encodeURIComponent(code), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) {
        if (province.value !== code) { return; }  // a later change won the race
        items.forEach(function (item) {
          var opt = document.createElement("option");
          opt.value = String(item.code);
          opt.textContent = item.name;
          commune.appendChild(opt);
        });
        commune.dispatchEvent(new Event("communes-loaded"));
        commune.setAttribute("data-loaded", code);
      });
  });
})();
