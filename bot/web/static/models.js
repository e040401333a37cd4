// Model registry page: follows a running training or activation through the status endpoint
// (no inline script: the CSP allows scripts from /static only). Reloads when it has finished.
(function () {
  "use strict";
  var section = document.getElementById("training-progress");
  if (!section) return;
  var url = section.getAttribute("data-status-url");
  var bar = section.querySelector("progress");
  function set(name, value) {
    var field = section.querySelector('[data-field="' + name + '"]');
    if (field && value !== null && value !== undefined) field.textContent = String(value);
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return setTimeout(poll, 5000);
        if (!data.running && !data.activating) return window.location.reload();
        if (bar && data.epochs) { bar.max = data.epochs; bar.value = data.epoch || 0; }
        set("phase", data.phase || data.status_sv);
        set("epoch", data.epoch || 0);
        set("epochs", data.epochs);
        set("elapsed", data.elapsed);
        set("remaining", data.remaining || "okänd");
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
