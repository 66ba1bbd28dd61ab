// Shows the slip's "Print" button and wires it; without JavaScript, Ctrl+P does the same.
"use strict";
(function () {
  var button = document.getElementById("print-slip");
  if (!button || typeof window.print !== "function") return;
  button.hidden = false;
  button.addEventListener("click", function () { window.print(); });
})();
