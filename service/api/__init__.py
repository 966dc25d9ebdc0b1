"""The HTTP surface: routes/ (one router per area), schemas, the SSE and OpenAI formats, deps."""
