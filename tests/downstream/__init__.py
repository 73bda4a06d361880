"""Downstream use: the integrations inside LangGraph, LangChain runtimes, LlamaIndex and Ray."""
