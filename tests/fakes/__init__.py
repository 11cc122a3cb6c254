"""Deterministic stand-ins for LLM backends: a distilabel LLM and a loopback OpenAI-compatible server."""
