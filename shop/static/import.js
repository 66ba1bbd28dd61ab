// Optional: show how much of a large device file has been sent. Without this script the form
// posts as usual; with it, the same request is sent by XHR and its answer replaces the page.
(function () {
  "use strict";
  var form = document.querySelector("form.import-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var box = form.querySelector(".upload-progress");
  var bar = form.querySelector("progress");
  form.addEventListener("submit", function (event) {
    var input = form.querySelector("input[type=file]");
    if (!input || !input.files || !input.files.length) { return; }  // let the server say what is missing
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    box.hidden = false;
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { bar.value = Math.round((e.loaded / e.total) * 100); }
    });
    xhr.addEventListener("load", function () {
      bar.value = 100;
      document.open();
      document.write(xhr.responseText);
      document.close();
    });
    xhr.addEventListener("error", function () { button.disabled = false; form.submit(); });
    xhr.send(new FormData(form));
  });
})();
