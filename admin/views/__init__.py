"""Request handlers: thin, they read the request, call queries and render a template."""
