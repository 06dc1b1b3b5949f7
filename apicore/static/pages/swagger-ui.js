// Starts Swagger UI on /docs (apicore/docs.py): its settings come from this script's data
// attributes, as no inline script may run under the page's Content-Security-Policy.
"use strict";
(function () {
  const settings = document.currentScript.dataset;
  window.ui = SwaggerUIBundle({
    url: settings.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // No validator badge: it would send the document to validator.swagger.io.
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
  });
})();
