"""The command-line tools: each parses options into API objects and calls the API."""
