// Swagger UI for the API document, from the vendored bundle; no online validator.
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  if (!el || !window.SwaggerUIBundle) { return; }
  window.SwaggerUIBundle({ url: el.dataset.url, domNode: el, validatorUrl: null, deepLinking: true });
})();
