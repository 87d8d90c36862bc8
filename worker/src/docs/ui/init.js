// Starts Swagger UI on this instance's own document. validatorUrl null: the page never calls
// an outside service (instances may be offline; the CSP allows only 'self').
window.ui = SwaggerUIBundle({
  url: '/api/mycelium/openapi.json',
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  docExpansion: 'none',
  defaultModelsExpandDepth: 0,
  persistAuthorization: false,
  tryItOutEnabled: false,
});
