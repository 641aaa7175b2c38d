// Swagger UI over one obgw document; the document URL comes from the page (no inline script: CSP script-src 'self').
(function () {
  var root = document.getElementById("reference");
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec-url"),
    domNode: root,
    deepLinking: true,
    supportedSubmitMethods: [],
  });
})();
