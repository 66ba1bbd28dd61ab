// Counter: scan the pickup QR code with the phone's camera, where the browser can read QR codes
// (BarcodeDetector). Without it, or without JavaScript, staff type the code: the form is the same.
"use strict";
(function () {
  var box = document.getElementById("scan");
  var form = document.querySelector("form.find-form");
  if (!box || !form || !("BarcodeDetector" in window) || !navigator.mediaDevices ||
      typeof navigator.mediaDevices.getUserMedia !== "function") return;
  var start = box.querySelector("button");
  var video = box.querySelector("video");
  var status = box.querySelector("[role=status]");
  var input = form.querySelector("input[name=q]");
  box.hidden = false;

  start.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    start.disabled = true;
    status.textContent = box.getAttribute("data-looking");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        return video.play().then(function () { look(detector, stream); });
      })
      .catch(function () {
        start.disabled = false;
        status.textContent = box.getAttribute("data-no-camera");
      });
  });

  function look(detector, stream) {
    detector.detect(video).then(function (codes) {
      var text = codes.length ? String(codes[0].rawValue || "").trim() : "";
      if (!text) { window.setTimeout(function () { look(detector, stream); }, 250); return; }
      stream.getTracks().forEach(function (track) { track.stop(); });
      input.value = text;
      form.submit();
    }, function () { window.setTimeout(function () { look(detector, stream); }, 500); });
  }
})();
